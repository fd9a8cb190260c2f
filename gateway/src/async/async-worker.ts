// Runs queued events through the same Invoker as synchronous calls, so they share admission: a throttled
// event goes back to the queue with exponential backoff (1 s doubling to 5 min) instead of taking a unit
// that a synchronous caller is waiting for.
import { ApiError } from '../../../apis/errors.ts';
import type { Invoker } from '../invocation/invoker.ts';
import type { AsyncEvent, EventQueue } from './event-queue.ts';

const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 5 * 60 * 1000;
const IDLE_POLL_MS = 50;

export interface AsyncWorkerOptions {
  /** How many events run at once. */
  concurrency: number;
  log: (line: string) => void;
}

export class AsyncWorker {
  private readonly queue: EventQueue;
  private readonly invoker: Invoker;
  private readonly options: AsyncWorkerOptions;
  private running = false;
  private readonly loops: Promise<void>[] = [];

  constructor(queue: EventQueue, invoker: Invoker, options: AsyncWorkerOptions) {
    this.queue = queue;
    this.invoker = invoker;
    this.options = options;
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.options.concurrency; i++) this.loops.push(this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const event = await this.queue.take(Date.now());
      if (!event) {
        await new Promise((r) => setTimeout(r, IDLE_POLL_MS));
        continue;
      }
      await this.run(event);
    }
  }

  private async run(event: AsyncEvent): Promise<void> {
    const attempts = event.attempts + 1;
    try {
      const target = this.invoker.resolve(event.namespace, event.functionName, event.qualifier);
      const out = await this.invoker.invoke(target, event.payload, {
        traceHeader: event.traceHeader,
        requestId: event.requestId,
      });
      if (out.result.outcome === 'error') {
        // Retries after function errors, destinations and dead letters come with the durable queue.
        this.options.log(`async invocation ${event.requestId} failed: ${out.result.errorType}`);
      }
      await this.queue.ack(event.requestId);
    } catch (err) {
      if (err instanceof ApiError && err.type === 'TooManyRequestsException') {
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** Math.min(attempts - 1, 20));
        await this.queue.retry({ ...event, attempts }, Date.now() + delay);
        return;
      }
      this.options.log(
        `async invocation ${event.requestId} dropped: ${err instanceof Error ? err.message : String(err)}`,
      );
      await this.queue.ack(event.requestId);
    }
  }
}
