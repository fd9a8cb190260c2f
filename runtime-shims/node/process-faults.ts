// Reports faults that escape the handler (uncaught exceptions, unhandled rejections, a broken Runtime API link)
// to the right endpoint, then ends the process, as Lambda's Node runtime does.
import { UnhandledPromiseRejection } from './errors.ts';
import type { RuntimeLog } from './log-patch.ts';
import type { ApiReply } from './runtime-api-client.ts';

/** The part of the Runtime API client fault reporting needs. */
export interface FaultSink {
  postError(requestId: string, error: unknown): Promise<ApiReply>;
  postInitError(error: unknown): Promise<ApiReply>;
}

// The official client's exit statuses; the agent only needs them to be non-zero.
export const EXIT_UNCAUGHT_EXCEPTION = 129;
export const EXIT_UNHANDLED_REJECTION = 128;

export class FaultReporter {
  private readonly sink: FaultSink;
  private readonly log: RuntimeLog;
  private readonly exit: (code: number) => void;
  /** The invocation a fault is charged to; none yet means the fault belongs to init. */
  private requestId: string | undefined;
  private exiting = false;
  private concurrent = false;

  constructor(sink: FaultSink, log: RuntimeLog, exit: (code: number) => void) {
    this.sink = sink;
    this.log = log;
    this.exit = exit;
  }

  /** From now on faults are reported as this invocation's error. */
  invoking(requestId: string): void {
    this.requestId = requestId;
  }

  /**
   * Init is over and invocations run several at once: a fault cannot be charged to one of them, so the
   * process just exits and the agent fails every invocation it was running with Runtime.ExitError.
   */
  servingConcurrently(): void {
    this.concurrent = true;
  }

  uncaughtException(error: unknown): void {
    this.log.logError('Uncaught Exception', error);
    this.reportAndExit(error, EXIT_UNCAUGHT_EXCEPTION);
  }

  unhandledRejection(reason: unknown, promise: unknown): void {
    const error = new UnhandledPromiseRejection(reason, promise);
    this.log.logError('Unhandled Promise Rejection', error);
    this.reportAndExit(error, EXIT_UNHANDLED_REJECTION);
  }

  /** Loading the handler failed: an init error, reported like an exception thrown during init. */
  initFailed(error: unknown): void {
    this.uncaughtException(error);
  }

  /** The invoke loop itself failed, e.g. the Runtime API went away. */
  loopFailed(error: unknown): void {
    console.log(`Unexpected Top Level Error: ${String(error)}`);
    this.reportAndExit(error, EXIT_UNCAUGHT_EXCEPTION);
  }

  private reportAndExit(error: unknown, code: number): void {
    // A second fault while the first is being reported would only race it to the same exit.
    if (this.exiting) return;
    this.exiting = true;
    if (this.concurrent) {
      this.exit(code);
      return;
    }
    const posted =
      this.requestId === undefined
        ? this.sink.postInitError(error)
        : this.sink.postError(this.requestId, error);
    // Exit whether or not the report got through: the agent turns the exit into an error of its own.
    posted.then(
      () => this.exit(code),
      () => this.exit(code),
    );
  }
}
