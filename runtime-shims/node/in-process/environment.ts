// An environment whose Node runtime runs in the agent's own process (ADR-52): the link, the log stream and
// the invocation bookkeeping are the agent's (upstream-link.ts, log-stream.ts, invocation-result.ts), the
// runtime is Serval's Node runtime (start-runtime.ts) fed by an in-process client instead of the Runtime
// API. What the agent does by killing a runtime process (a timeout, a crash, a failed init) this
// environment does by ending itself: its last results go out, the link closes, and the gateway starts a
// fresh environment for the next call.
import { writeSync } from 'node:fs';
import type { InvocationRequest, InvocationResult } from '../../../apis/environment-link.ts';
import { INIT_LIMIT_MS } from '../../../apis/environment-link.ts';
import {
  type Failure,
  invocationResult,
  platformError,
  timeoutFailure,
} from '../../agent/invocation-result.ts';
import { LogStream } from '../../agent/log-stream.ts';
import type { RuntimeOutcome } from '../../agent/runtime-api/server.ts';
import { logStreamName } from '../../agent/runtime-environment.ts';
import type { StreamRelay } from '../../agent/stream-relay.ts';
import type { EnvironmentContext, LinkedEnvironment } from '../../agent/upstream-link.ts';
import { startRuntime } from '../start-runtime.ts';
import { CallLedger, RESET_EXIT_CODE, RESET_LINE } from './call-ledger.ts';
import { serveRuntimeApi } from './foreign-runtime-api.ts';
import { InProcessClient } from './in-process-client.ts';
import { closeFrame, messageFrame, writeAllSync } from './last-words.ts';
import type { LogSink } from './log-sink.ts';
import { watchMemory } from './memory-watch.ts';
import { captureOutput, enterFunctionEnvironment } from './runtime-setup.ts';

/**
 * What of this process's resident memory is the agent's part (the link, the log stream, the Runtime API
 * server), which agent mode's sampling of its runtime process does not count: the same handler's resident
 * memory was 26 MB above agent mode's runtime (113-114 MB against 82-88, ADR-54), about 10 of it the
 * timeout watchdog's isolate: removing it took a warm environment from 29.6 to 19.6 MB private (ADR-57).
 * Only where no cgroup holds the limit.
 */
const AGENT_PART_MB = 22;
/** How long a crash's last words wait for the link's queued writes (a log line, a stream's chunk) to go out. */
const FLUSH_WAIT_MS = 1000;

/** What the supervisor (supervise.sh, ADR-54) set up for this process. */
export interface Supervision {
  /** The file the supervisor reads after a death by signal (call-ledger.ts). */
  ledgerPath?: string | undefined;
  /** The supervisor joined the memory cgroup already, and keeps its OOM count. */
  joinedCgroup?: boolean;
}

type InitResult = { ok: true; durationMs: number } | { ok: false; durationMs: number; failure: Failure };

/** One invocation from its arrival to its result. */
interface Call {
  requestId: string;
  relay: StreamRelay;
  /** performance.now() at the start of its invoke phase (or its arrival, until then). */
  startedAt: number;
  initDurationMs: number | undefined;
  /** Epoch ms while the handler runs. */
  deadlineMs: number | undefined;
  timer: NodeJS.Timeout | undefined;
  settle: ((outcome: RuntimeOutcome | Failure) => void) | undefined;
  /** Its slot in the ledger (-1 for none). */
  slot: number;
}

export class InProcessEnvironment implements LinkedEnvironment {
  readonly concurrent: boolean;
  private readonly context: EnvironmentContext;
  private readonly logSink: LogSink;
  private readonly log: LogStream;
  private readonly client: InProcessClient;
  private readonly calls = new Map<string, Call>();
  private initialised = false;
  /** The one init of this process: started by the first call (or initAhead), joined by any other. */
  private initDone: Promise<InitResult> | undefined;
  private settleInit: ((result: InitResult) => void) | undefined;
  private initStartedAt = 0;
  private initError: { errorType: string; body: Buffer } | undefined;
  private ending = false;
  /** A fault was reported: the invocation's result is this environment's last. */
  private resetting = false;
  private readonly supervision: Supervision;
  private ledger: CallLedger | undefined;
  /** The link closed or the process was told to stop: its end is not a reset. */
  private stopping = false;
  /** Where AWS_LAMBDA_RUNTIME_API points: a Runtime API no invocation goes through (foreign-runtime-api.ts). */
  private runtimeApi = '';

  constructor(context: EnvironmentContext, logSink: LogSink, supervision: Supervision = {}) {
    this.context = context;
    this.logSink = logSink;
    this.supervision = supervision;
    this.log = new LogStream(context.spec, logSink.line);
    this.concurrent = context.spec.maxConcurrency !== undefined;
    this.client = new InProcessClient({
      initComplete: () => this.initComplete(),
      initError: (errorType, body) => {
        this.initError = { errorType, body };
      },
      outcome: (requestId, outcome) => this.calls.get(requestId)?.settle?.(outcome),
      relayOf: (requestId) => this.calls.get(requestId)?.relay,
      keepAlive: (alive) => {
        const wire = this.context.wire();
        if (alive) wire?.ref();
        else wire?.unref();
      },
    });
  }

  get isInitialised(): boolean {
    return this.initialised;
  }

  async start(): Promise<void> {
    const { config, spec } = this.context;
    const { memoryCgroup } = config;
    // The whole environment joins the function's memory cgroup: the runtime is this process.
    if (memoryCgroup && !this.supervision.joinedCgroup) writeSync(memoryCgroup.procs, '0');
    const { ledgerPath } = this.supervision;
    if (ledgerPath) this.ledger = CallLedger.open(ledgerPath, spec);
    this.runtimeApi = await serveRuntimeApi(config.runtimeApiHost, config.runtimeApiPort).catch(
      (err: Error) => {
        this.context.sink(`[serval] no Runtime API for AWS_LAMBDA_RUNTIME_API: ${err.message}`);
        return '';
      },
    );
    // Without a cgroup nothing else holds the environment to its memory (the agent samples its runtime).
    // A handler that spins or blocks past its deadline is ended from outside: the local provider reads the
    // ledger and has the supervisor kill this process (ADR-57).
    if (!memoryCgroup) watchMemory(spec.memoryMB + AGENT_PART_MB, this.ledger);
    process.on('exit', (code) => {
      this.lastWords({ exitCode: code });
      // Any end but a stop is a reset, whatever status the handler exited with: the provider keeps /tmp.
      if (!this.stopping) process.exitCode = RESET_EXIT_CODE;
    });
  }

  stop(): void {
    this.stopping = true;
  }

  async initAhead(): Promise<string | undefined> {
    this.log.initStart();
    // No call holds this init's deadline in the ledger: the mark does, for the provider (ADR-57).
    this.ledger?.initAhead(Date.now());
    const init = await this.waitInit(INIT_LIMIT_MS);
    this.ledger?.initAhead(undefined);
    if (init.ok) return undefined;
    this.log.initReport(
      init.durationMs,
      init.failure.status === 'timeout' ? 'timeout' : 'error',
      init.failure.errorType,
    );
    this.end();
    if (init.failure.status === 'timeout')
      return `${init.failure.errorType}: the init phase did not complete within ${INIT_LIMIT_MS / 1000} s`;
    try {
      const parsed = JSON.parse(init.failure.body.toString('utf8')) as { errorMessage?: unknown };
      return `${init.failure.errorType}: ${String(parsed.errorMessage ?? '')}`;
    } catch {
      return init.failure.errorType;
    }
  }

  async invoke(
    request: InvocationRequest,
    body: Buffer,
    relay: StreamRelay,
  ): Promise<{ result: InvocationResult; body: Buffer }> {
    const { requestId } = request;
    const call: Call = {
      requestId,
      relay,
      startedAt: performance.now(),
      initDurationMs: undefined,
      deadlineMs: undefined,
      timer: undefined,
      settle: undefined,
      slot: -1,
    };
    this.calls.set(requestId, call);
    const entry = { requestId, traceId: request.traceId, at: Date.now() };
    const inInit = !this.initialised;
    call.slot = this.ledger?.enter({ ...entry, phase: inInit ? 'init' : 'invoke' }) ?? -1;
    const joining = !this.initialised && this.initDone !== undefined;
    if (!this.initialised && !joining) this.log.initStart();
    this.log.start(requestId, request.traceId);
    if (joining) {
      const init = await this.initDone!;
      if (!init.ok) return this.finish(call, init.failure);
      call.startedAt = performance.now();
    } else if (!this.initialised) {
      const init = await this.initPhase(call);
      if (!init.ok) return this.endWith(call, init.failure);
    }
    // Its invoke phase begins now, for the ledger's readers too (a call that joined another's init included).
    if (call.slot >= 0 && inInit)
      this.ledger?.update(call.slot, {
        ...entry,
        at: Date.now(),
        phase: 'invoke',
        initDurationMs: call.initDurationMs,
      });
    const outcome = await this.run(call, request, body);
    if (this.resetting && !this.concurrent) return this.endWith(call, outcome);
    return this.finish(call, outcome);
  }

  /**
   * After a failed init or a reported fault the process cannot serve again: the result goes out with the
   * link's close in one write (lastWords), and the process ends. The promise never settles, so the link
   * sends nothing after it.
   */
  private endWith(call: Call, outcome: RuntimeOutcome | Failure): Promise<never> {
    const { result, body } = this.finish(call, outcome);
    this.lastWords({ exitCode: 0 }, [messageFrame({ type: 'result', result }, body)]);
    setImmediate(() => process.exit(0));
    return new Promise(() => {});
  }

  /** The first call's init; one that overruns 10 s goes on inside the invoke phase, bounded by the timeout. */
  private async initPhase(call: Call): Promise<InitResult> {
    let init = await this.waitInit(INIT_LIMIT_MS);
    call.initDurationMs = init.durationMs;
    if (!init.ok && init.failure.status === 'timeout') {
      this.log.initReport(init.durationMs, 'timeout');
      this.log.initStart('invoke');
      call.startedAt = performance.now();
      init = await this.waitInit(this.context.spec.timeoutSeconds * 1000);
      if (!init.ok && init.failure.status === 'timeout') init.failure = this.timeout(call.requestId);
    } else {
      call.startedAt = performance.now();
    }
    if (!init.ok && init.failure.status !== 'timeout')
      this.log.initReport(init.durationMs, 'error', init.failure.errorType);
    const after = init.ok ? this.context.afterFirstInit : undefined;
    if (after) await after();
    return init;
  }

  /** Starts the runtime's init once; waits for it at most `limitMs` from now. */
  private waitInit(limitMs: number): Promise<InitResult> {
    this.initDone ??= this.startInit();
    const done = this.initDone;
    return new Promise<InitResult>((resolve) => {
      const timer = setTimeout(() => {
        resolve({
          ok: false,
          durationMs: performance.now() - this.initStartedAt,
          failure: { errorType: 'Sandbox.Timedout', body: Buffer.alloc(0), status: 'timeout' },
        });
      }, limitMs).unref();
      void done.then((result) => {
        clearTimeout(timer);
        resolve(result);
      });
    });
  }

  private startInit(): Promise<InitResult> {
    this.initStartedAt = performance.now();
    const { promise, resolve } = Promise.withResolvers<InitResult>();
    this.settleInit = resolve;
    const { spec, config } = this.context;
    const runtimeConfig = enterFunctionEnvironment(
      spec,
      config,
      logStreamName(spec.version, spec.environmentId, new Date()),
      this.runtimeApi,
    );
    captureOutput((text) => this.log.runtimeOutput(text));
    void startRuntime(runtimeConfig, {
      client: this.client,
      write: (record) => this.log.runtimeOutput(record),
      exit: (code) => this.runtimeExited(code),
      // A reported fault is the invocation's answer and the runtime's end: its result goes out with the close.
      faults: {
        postError: (requestId, error) => {
          this.resetting = true;
          return this.client.postError(requestId, error);
        },
        postInitError: (error) => this.client.postInitError(error),
      },
    });
    return promise;
  }

  private initComplete(): void {
    this.initialised = true;
    this.settleInit?.({ ok: true, durationMs: performance.now() - this.initStartedAt });
    this.settleInit = undefined;
  }

  /** The runtime reported a fault and would exit: its init or running calls fail, then the environment ends. */
  private runtimeExited(code: number): void {
    const durationMs = performance.now() - this.initStartedAt;
    if (this.settleInit) {
      const failure = this.initError
        ? { ...this.initError, status: 'error' as const }
        : exitFailure([...this.calls.keys()][0] ?? '', code);
      this.settleInit({ ok: false, durationMs, failure });
      this.settleInit = undefined;
    }
    // Calls still running (several at once) cannot be answered by a runtime that is going.
    const unanswered = [...this.calls.values()].filter((c) => c.settle !== undefined);
    if (unanswered.length > 0) {
      // The loop still runs here (unlike an exit hook or a spin): let what it queued on the link go out
      // first, or the last words could not be written whole and the gateway would see the link lost.
      this.whenLinkFlushed(() => {
        this.lastWords({ exitCode: code });
        process.exit(code);
      });
      return;
    }
    this.end();
  }

  /** Runs `then` once nothing is queued on the link's socket, or after FLUSH_WAIT_MS whatever is. */
  private whenLinkFlushed(then: () => void): void {
    const wire = this.context.wire();
    const until = performance.now() + FLUSH_WAIT_MS;
    const check = () => {
      if (!wire || wire.destroyed || wire.writableLength === 0 || performance.now() >= until) then();
      else setTimeout(check, 1);
    };
    check();
  }

  private run(call: Call, request: InvocationRequest, body: Buffer): Promise<RuntimeOutcome | Failure> {
    const timeoutMs = this.context.spec.timeoutSeconds * 1000;
    const deadlineMs = Date.now() + timeoutMs - (performance.now() - call.startedAt);
    return new Promise((resolve) => {
      call.deadlineMs = deadlineMs;
      call.settle = (outcome) => {
        clearTimeout(call.timer);
        call.settle = undefined;
        call.deadlineMs = undefined;
        resolve(outcome);
      };
      call.timer = setTimeout(() => this.timedOut(call), deadlineMs - Date.now()).unref();
      this.client.deliver(request, body, Math.round(deadlineMs));
    });
  }

  private timedOut(call: Call): void {
    if (!call.settle || call.deadlineMs === undefined) return;
    // A timer may fire a little before its time by the wall clock; the invocation gets all of its time.
    const early = call.deadlineMs - Date.now();
    if (early > 0) {
      call.timer = setTimeout(() => this.timedOut(call), early + 1).unref();
      return;
    }
    // Several at once: only this one fails, the others keep their runtime (ADR-42), its late answer refused.
    if (this.concurrent) {
      this.client.forget(call.requestId);
      call.settle(this.timeout(call.requestId));
      return;
    }
    this.lastWords({ timedOut: new Set([call.requestId]) });
    process.exit(0);
  }

  private timeout(requestId: string): Failure {
    return timeoutFailure(this.log, requestId, this.context.spec.timeoutSeconds);
  }

  private finish(call: Call, outcome: RuntimeOutcome | Failure): { result: InvocationResult; body: Buffer } {
    // The result is the stream's last word on the link: whatever the handler still writes is dropped.
    call.relay.close();
    this.calls.delete(call.requestId);
    this.ledger?.leave(call.slot);
    return invocationResult(this.context.spec, this.log, {
      requestId: call.requestId,
      outcome,
      durationMs: performance.now() - call.startedAt,
      initDurationMs: call.initDurationMs,
      maxMemoryUsedMB: this.maxMemoryUsedMB(),
      relay: call.relay,
    });
  }

  /**
   * The event loop will not run again (an exit, or a timeout that ends the process): every call still
   * waiting gets its result now, written straight to the link's socket with the link's close behind it, in
   * one write, so the gateway starts nothing more here. Only when nothing the loop wrote is still queued on
   * the socket, or the frames would interleave; else the gateway sees the link lost.
   */
  private lastWords(
    cause: { timedOut: ReadonlySet<string> } | { exitCode: number },
    frames: Buffer[] = [],
  ): void {
    if (this.ending && this.calls.size === 0 && frames.length === 0) return;
    this.ending = true;
    for (const call of [...this.calls.values()]) {
      // A timeout ends the process: calls running beside the late one (multi-concurrency) end with it.
      const failure =
        'exitCode' in cause
          ? exitFailure(call.requestId, cause.exitCode)
          : cause.timedOut.has(call.requestId)
            ? this.timeout(call.requestId)
            : exitFailure(call.requestId, undefined);
      const { result, body } = this.finish(call, failure);
      frames.push(messageFrame({ type: 'result', result }, body));
    }
    this.logSink.flush();
    if (!this.stopping) writeAllSync(1, Buffer.from(`${RESET_LINE}\n`));
    const fd = this.context.config.linkFd;
    const wire = this.context.wire();
    if (fd === undefined || (wire && wire.writableLength > 0)) return;
    frames.push(closeFrame(1000, 'the environment ended'));
    if (writeAllSync(fd, Buffer.concat(frames))) this.ledger?.ended();
  }

  /** After a reset the environment serves nothing more: the link closes behind the results in flight. */
  private end(): void {
    if (this.ending) return;
    this.ending = true;
    this.context.ended();
  }

  /**
   * The process's peak resident memory: the runtime is this process. Its memory cgroup's peak counts only
   * what was charged after it joined (at start), so it can only add what the process's own peak misses.
   */
  private maxMemoryUsedMB(): number {
    const own = Math.ceil(process.resourceUsage().maxRSS / 1024);
    const cgroup = this.context.config.memoryCgroup;
    if (!cgroup) return own;
    try {
      const buffer = Buffer.alloc(32);
      const peak = Number(buffer.toString('utf8', 0, readSyncAt(cgroup.peak, buffer)).trim());
      return Math.max(own, Math.ceil(peak / (1024 * 1024)) || 0);
    } catch {
      return own;
    }
  }
}

function readSyncAt(fd: number, buffer: Buffer): number {
  return process.getBuiltinModule('node:fs').readSync(fd, buffer, 0, buffer.length, 0);
}

/** The agent's words for a runtime that ended under an invocation (environment.ts, describeExit). */
function exitFailure(requestId: string, exitCode: number | undefined): Failure {
  const reason =
    exitCode === undefined
      ? 'Runtime exited with error: signal: killed'
      : exitCode === 0
        ? 'Runtime exited without providing a reason'
        : `Runtime exited with error: exit status ${exitCode}`;
  return platformError('Runtime.ExitError', `RequestId: ${requestId} Error: ${reason}`);
}
