// Runs queued events through the same Invoker as synchronous calls, so they go through admission like any
// caller: a throttled event goes back to the queue with backoff instead of taking a unit that a synchronous
// caller is waiting for. After each attempt the retry policy decides; finished events go to their
// destinations, and whatever cannot be delivered stays as a dead letter.
import { type AsyncConfig, DEFAULT_ASYNC_CONFIG } from '../../../apis/async-config.ts';
import { ApiError } from '../../../apis/errors.ts';
import type { Invoker, InvokeTarget } from '../invocation/invoker.ts';
import { functionArn } from '../registry/function-definition.ts';
import type { Destinations } from './destinations.ts';
import type { AsyncEvent, EventQueue, FailureCondition, LastAttempt, Leased } from './event-queue.ts';
import { invocationRecord } from './invocation-record.ts';
import { type AttemptOutcome, afterFailure, isExpired } from './retry-policy.ts';

/** Longest a worker sleeps with nothing due (a backstop: writes and due times wake it earlier). */
const IDLE_WAIT_MS = 1000;

export interface AsyncWorkerOptions {
  /** How many events run at once. */
  concurrency: number;
  region: string;
  timeScale: number;
  /**
   * How often a running event tells the queue it is still alive (under the JetStream ack wait); undefined
   * for a backend whose leases do not expire (SQLite), which then costs no timer per event.
   */
  touchEveryMs: number | undefined;
  log: (line: string) => void;
  /** Observability hooks; the metrics module implements them. */
  observer?: AsyncObserver | undefined;
}

export interface AsyncObserver {
  retried(event: AsyncEvent, reason: AttemptOutcome['kind']): void;
  finished(event: AsyncEvent, condition: 'Success' | FailureCondition): void;
  deadLettered(event: AsyncEvent): void;
  destinationFailed(kind: 'onSuccess' | 'onFailure' | 'deadLetter', event: AsyncEvent): void;
}

export class AsyncWorker {
  private readonly queue: EventQueue;
  private readonly invoker: Invoker;
  private readonly destinations: Destinations;
  private readonly options: AsyncWorkerOptions;
  private running = false;
  private feeder: Promise<void> | undefined;
  private readonly active = new Set<Promise<void>>();
  private stopping = new AbortController();

  constructor(queue: EventQueue, invoker: Invoker, destinations: Destinations, options: AsyncWorkerOptions) {
    this.queue = queue;
    this.invoker = invoker;
    this.destinations = destinations;
    this.options = options;
  }

  /** With concurrency 0 the gateway only accepts events (an ingest-only replica); others run them. */
  start(): void {
    if (this.options.concurrency === 0) return;
    this.running = true;
    this.stopping = new AbortController();
    this.feeder = this.feed();
  }

  /** Stops taking events and waits for the running ones. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.feeder;
    await Promise.all(this.active);
  }

  private async feed(): Promise<void> {
    while (this.running) {
      if (this.active.size >= this.options.concurrency) {
        await Promise.race(this.active);
        continue;
      }
      let leased: Leased | undefined;
      try {
        leased = await this.queue.take(Date.now());
      } catch (err) {
        this.options.log(`async queue unavailable: ${message(err)}`);
        await sleep(1000);
        continue;
      }
      if (!leased) {
        await this.queue.waitForWork?.(Date.now(), IDLE_WAIT_MS, this.stopping.signal);
        continue;
      }
      const run = this.process(leased).catch((err) =>
        this.options.log(`async event ${leased.event.requestId}: ${message(err)}`),
      );
      this.active.add(run);
      void run.finally(() => this.active.delete(run));
    }
  }

  private async process(leased: Leased): Promise<void> {
    const event = leased.event;
    let target: InvokeTarget;
    try {
      target = this.invoker.resolve(event.namespace, event.functionName, event.qualifier);
    } catch (err) {
      const last = failureOf(err);
      await this.queue.deadLetter(
        leased,
        { condition: 'FunctionNotFound', failedAt: Date.now(), reason: last.errorMessage },
        { ...event, last },
      );
      this.options.observer?.deadLettered(event);
      return;
    }
    const config = target.fn.spec.async ?? DEFAULT_ASYNC_CONFIG;
    if (isExpired(event, config, Date.now(), this.options.timeScale)) {
      await this.fail(leased, event, 'EventAgeExceeded', target, config);
      return;
    }
    if (target.fn.spec.reservedConcurrency === 0) {
      // Lambda sends these straight to the failure destination, without retries (reference §7.1).
      const last: LastAttempt = {
        statusCode: 429,
        errorType: 'TooManyRequestsException',
        errorMessage: 'Rate Exceeded. (ReservedFunctionConcurrentInvocationLimitExceeded)',
      };
      await this.fail(leased, { ...event, last }, 'RetriesExhausted', target, config);
      return;
    }

    const outcome = await this.attempt(leased, target);
    const now = Date.now();
    if (outcome.kind !== 'success' && outcome.last.errorType === 'RecursiveInvocationException') {
      // A stopped loop is not retried: it goes to the on-failure destination or dead letter at once, and
      // it never reached the function, so it adds no invocation to the count.
      await this.fail(leased, { ...leased.event, last: outcome.last }, 'RetriesExhausted', target, config);
      return;
    }
    if (outcome.kind === 'success') {
      const done = { ...outcome.event };
      if (config.destinations?.onSuccess) {
        const record = invocationRecord(done, 'Success', this.arnOf(target), now);
        await this.destinations
          .sendRecord(config.destinations.onSuccess, record, target.fn.namespace, now, carried(done))
          .catch((err) => this.destinationFailed('onSuccess', done, err));
      }
      await this.queue.ack(leased);
      this.options.observer?.finished(done, 'Success');
      return;
    }
    const decision = afterFailure(outcome.event, outcome, config, now, this.options.timeScale);
    if (decision.action === 'retry') {
      await this.queue.retry(leased, decision.next);
      this.options.observer?.retried(decision.next, outcome.kind);
      return;
    }
    await this.fail(leased, decision.event, 'RetriesExhausted', target, config);
  }

  private async attempt(
    leased: Leased,
    target: InvokeTarget,
  ): Promise<{ kind: 'success'; event: AsyncEvent } | (AttemptOutcome & { event: AsyncEvent })> {
    const event = leased.event;
    const { touchEveryMs } = this.options;
    const heartbeat =
      touchEveryMs === undefined ? undefined : setInterval(() => this.queue.touch(leased), touchEveryMs);
    try {
      const out = await this.invoker.invoke(target, event.payload, {
        traceHeader: event.traceHeader,
        tenantId: event.tenantId,
        requestId: event.requestId,
        // Queue wait (span and event-age metric) counts from acceptance, across retries.
        queuedSince: event.acceptedAt,
      });
      const tried = { ...event, attempts: event.attempts + 1 };
      const response = out.body.toString('utf8');
      if (out.result.outcome === 'success') {
        return {
          kind: 'success',
          event: {
            ...tried,
            last: {
              statusCode: 200,
              executedVersion: out.executedVersion,
              errorType: '',
              errorMessage: '',
              response,
              traceHeader: out.traceHeader,
            },
          },
        };
      }
      const last: LastAttempt = {
        statusCode: 200,
        executedVersion: out.executedVersion,
        functionError: 'Unhandled',
        errorType: out.result.errorType ?? 'Unhandled',
        errorMessage: errorMessageOf(response),
        response,
        traceHeader: out.traceHeader,
      };
      return { kind: 'function-error', last, event: tried };
    } catch (err) {
      const last = failureOf(err);
      if (last.statusCode === 429) return { kind: 'throttled', last, event };
      if (last.statusCode >= 500) return { kind: 'system-error', last, event };
      // Any other refusal will not cure itself with time: it spends the retry budget like a function error.
      return { kind: 'function-error', last, event: { ...event, attempts: event.attempts + 1 } };
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Sends a finished-but-failed event to its failure destination and dead-letter target, or keeps it. */
  private async fail(
    leased: Leased,
    event: AsyncEvent,
    condition: 'RetriesExhausted' | 'EventAgeExceeded',
    target: InvokeTarget,
    config: AsyncConfig,
  ): Promise<void> {
    const now = Date.now();
    const problems: string[] = [];
    const { onFailure } = config.destinations ?? {};
    if (onFailure) {
      const record = invocationRecord(event, condition, this.arnOf(target), now);
      const trace = carried(event);
      await this.destinations.sendRecord(onFailure, record, target.fn.namespace, now, trace).catch((err) => {
        this.destinationFailed('onFailure', event, err);
        problems.push(`on-failure destination: ${message(err)}`);
      });
    }
    if (config.deadLetter) {
      const attributes = {
        RequestID: event.requestId,
        ErrorCode: String(event.last?.statusCode ?? 500),
        ErrorMessage: event.last?.errorMessage ?? condition,
      };
      await this.destinations.sendDeadLetter(config.deadLetter, event.payload, attributes).catch((err) => {
        this.destinationFailed('deadLetter', event, err);
        problems.push(`dead-letter target: ${message(err)}`);
      });
    }
    this.options.observer?.finished(event, condition);
    if (!onFailure && !config.deadLetter) problems.push('no on-failure destination or dead-letter target');
    if (problems.length === 0) {
      await this.queue.ack(leased);
      return;
    }
    // Nothing is dropped: an event no target took stays where operators can list and redrive it.
    await this.queue.deadLetter(leased, { condition, failedAt: now, reason: problems.join('; ') }, event);
    this.options.observer?.deadLettered(event);
  }

  private destinationFailed(kind: 'onSuccess' | 'onFailure' | 'deadLetter', event: AsyncEvent, err: unknown) {
    this.options.log(`async event ${event.requestId}: ${kind} delivery failed: ${message(err)}`);
    this.options.observer?.destinationFailed(kind, event);
  }

  private arnOf(target: InvokeTarget): string {
    return functionArn(this.options.region, target.fn.namespace, target.fn.name);
  }
}

/** What a function destination's event continues: the last run's hop, else the event's own trace. */
function carried(event: AsyncEvent): string | undefined {
  return event.last?.traceHeader ?? event.traceHeader;
}

function failureOf(err: unknown): LastAttempt {
  if (err instanceof ApiError) {
    const reason = err.extra.Reason ? ` (${err.extra.Reason})` : '';
    return { statusCode: err.status, errorType: err.type, errorMessage: `${err.message}${reason}` };
  }
  return { statusCode: 500, errorType: 'ServiceException', errorMessage: message(err) };
}

function errorMessageOf(response: string): string {
  try {
    const parsed = JSON.parse(response) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {}
  return response.slice(0, 1024);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
