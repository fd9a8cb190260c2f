// One execution environment: initialises its runtime on demand, runs one invocation at a time, enforces
// the init limit and the function timeout, and turns every way a runtime can fail into Lambda's error.
import type { EnvironmentSpec, InvocationRequest, InvocationResult } from '../../apis/environment-link.ts';
import type { AgentConfig } from './config.ts';
import { LogStream, type ReportStatus } from './log-stream.ts';
import { type RuntimeApiListener, RuntimeApiServer, type RuntimeOutcome } from './runtime-api/server.ts';
import { runtimeCommand } from './runtime-command.ts';
import { logStreamName, runtimeEnvironment } from './runtime-environment.ts';
import { describeExit, type RuntimeExit, RuntimeProcess } from './runtime-process.ts';
import { StreamRelay } from './stream-relay.ts';

const INIT_LIMIT_MS = 10_000;
/** After a runtime exits mid-invocation, requests it sent just before may still be in flight. */
const EXIT_GRACE_MS = 20;
/** How long a runtime that reported an init error may take to exit by itself. */
const INIT_ERROR_EXIT_GRACE_MS = 500;

type InitResult = { ok: true; durationMs: number } | { ok: false; durationMs: number; failure: Failure };
interface Failure {
  errorType: string;
  body: Buffer;
  status: ReportStatus;
}

interface PendingInit {
  resolve: (r: InitResult) => void;
  startedAt: number;
  error?: { errorType: string | undefined; body: Buffer };
}
interface ActiveInvocation {
  requestId: string;
  deadlineMs: number;
  startedAt: number;
  relay: StreamRelay;
  resolve: (o: RuntimeOutcome | Failure) => void;
}

export class Environment implements RuntimeApiListener {
  private readonly spec: EnvironmentSpec;
  private readonly config: AgentConfig;
  private readonly api: RuntimeApiServer;
  private readonly log: LogStream;
  private runtimeApiAddress = '';
  private runtime: RuntimeProcess | undefined;
  /** The runtime that ran last, kept after a reset: its peak memory is what the REPORT shows. */
  private lastRuntime: RuntimeProcess | undefined;
  private initialised = false;
  private pendingInit: PendingInit | undefined;
  private active: ActiveInvocation | undefined;
  private readonly streamName: string;

  constructor(spec: EnvironmentSpec, config: AgentConfig, sink: (line: string) => void) {
    this.spec = spec;
    this.config = config;
    this.log = new LogStream(spec, sink);
    this.api = new RuntimeApiServer(this);
    this.streamName = logStreamName(spec.version, spec.environmentId, new Date());
  }

  async start(): Promise<void> {
    const port = await this.api.listen(this.config.runtimeApiHost, this.config.runtimeApiPort);
    this.runtimeApiAddress = `${this.config.runtimeApiHost}:${port}`;
  }

  /**
   * Provisioned concurrency: runs the init phase now, before any invocation, as Lambda does for a
   * provisioned environment. Resolves with why it failed (`errorType: message`), or undefined.
   */
  async initAhead(): Promise<string | undefined> {
    this.log.initStart();
    const init = await this.init(INIT_LIMIT_MS, 'provisioned-concurrency');
    if (init.ok) return undefined;
    this.log.initReport(
      init.durationMs,
      init.failure.status === 'timeout' ? 'timeout' : 'error',
      init.failure.errorType,
    );
    const { errorType, body } = init.failure;
    if (init.failure.status === 'timeout')
      return `${errorType}: the init phase did not complete within ${INIT_LIMIT_MS / 1000} s`;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { errorMessage?: unknown };
      return `${errorType}: ${String(parsed.errorMessage ?? '')}`;
    } catch {
      return errorType;
    }
  }

  /** Whether the runtime has finished its init and is still the one that did (no crash or reset since). */
  get isInitialised(): boolean {
    return this.initialised;
  }

  stop(): void {
    this.runtime?.kill();
    this.api.close();
  }

  /** Runs one invocation; a response the runtime streams goes out through `relay` as it is written. */
  async invoke(
    request: InvocationRequest,
    body: Buffer,
    relay: StreamRelay,
  ): Promise<{ result: InvocationResult; body: Buffer }> {
    const { requestId } = request;
    // As in Lambda, the init phase's record comes before the invocation's.
    if (!this.initialised) this.log.initStart();
    this.log.start(requestId, request.traceId);
    let initDurationMs: number | undefined;
    let invokePhaseStart: number | undefined;
    if (!this.initialised) {
      let init = await this.init(INIT_LIMIT_MS, requestId);
      if (!init.ok && init.failure.status === 'timeout') {
        // Lambda retries a timed-out init inside the invoke phase, bounded by the function timeout.
        this.log.initReport(init.durationMs, 'timeout');
        this.log.initStart('invoke');
        invokePhaseStart = performance.now();
        init = await this.init(this.spec.timeoutSeconds * 1000, requestId);
        if (!init.ok && init.failure.status === 'timeout') init.failure = this.timeout(requestId);
      }
      initDurationMs = init.durationMs;
      if (!init.ok) {
        if (init.failure.status !== 'timeout')
          this.log.initReport(init.durationMs, 'error', init.failure.errorType);
        return this.finish(requestId, init.failure, performance.now(), initDurationMs, relay);
      }
    }
    const startedAt = invokePhaseStart ?? performance.now();
    const outcome = await this.run(request, body, startedAt, relay);
    return this.finish(requestId, outcome, startedAt, initDurationMs, relay);
  }

  // --- Runtime API events ---------------------------------------------------------------------------

  initComplete(): void {
    const init = this.pendingInit;
    if (!init) return;
    this.pendingInit = undefined;
    this.initialised = true;
    init.resolve({ ok: true, durationMs: performance.now() - init.startedAt });
  }

  initError(errorType: string | undefined, body: Buffer): void {
    if (this.pendingInit) this.pendingInit.error = { errorType, body };
    // The runtime is expected to exit by itself (its last words belong in the log); one that lingers is
    // killed, as Lambda resets the environment either way.
    const runtime = this.runtime;
    setTimeout(() => runtime?.kill(), INIT_ERROR_EXIT_GRACE_MS).unref();
  }

  delivered(requestId: string): number {
    return this.active?.requestId === requestId ? this.active.deadlineMs : Date.now();
  }

  outcome(requestId: string, outcome: RuntimeOutcome): void {
    if (this.active?.requestId === requestId) this.active.resolve(outcome);
  }

  responseStream(requestId: string): StreamRelay {
    const active = this.active;
    if (active?.requestId === requestId) return active.relay;
    // Not the active invocation (it ended meanwhile): the body is read and nothing is relayed.
    const orphan = new StreamRelay(requestId, () => {});
    orphan.close();
    return orphan;
  }

  // --- Phases -------------------------------------------------------------------------------------------

  private init(limitMs: number, requestId: string): Promise<InitResult> {
    this.api.resetForNewRuntime();
    const startedAt = performance.now();
    const command = runtimeCommand(
      this.spec,
      this.config.runtimeDir,
      this.config.passthroughEnv.PATH ?? '',
      this.config.pythonExecutable,
    );
    if (!command.ok) {
      return Promise.resolve({
        ok: false,
        durationMs: 0,
        failure: platformError(command.errorType, `RequestId: ${requestId} Error: ${command.message}`),
      });
    }
    const env = runtimeEnvironment({
      spec: this.spec,
      runtimeApi: this.runtimeApiAddress,
      runtimeDir: this.config.runtimeDir,
      tmpDir: this.config.tmpDir,
      passthrough: this.config.passthroughEnv,
      logStreamName: this.streamName,
      nodeCompileCache: this.config.nodeCompileCache,
      optDir: this.config.optDir,
    });
    const runtime = new RuntimeProcess(
      command.file,
      command.args,
      this.spec.codeDir,
      env,
      (s) => this.log.runtimeOutput(s),
      {
        memoryMB: this.spec.memoryMB,
        cgroup: this.config.memoryCgroup,
        containerMemoryEvents: this.config.containerMemoryEvents,
      },
    );
    this.runtime = runtime;
    this.lastRuntime = runtime;
    return new Promise<InitResult>((resolve) => {
      const timer = setTimeout(
        () => settle({ ok: false, durationMs: limitMs, failure: timedOut() }),
        limitMs,
      );
      const settle = (result: InitResult) => {
        clearTimeout(timer);
        if (this.pendingInit?.resolve === settle) this.pendingInit = undefined;
        if (!result.ok) this.reset(runtime);
        resolve(result);
      };
      const pending: PendingInit = { resolve: settle, startedAt };
      this.pendingInit = pending;
      // The one exit listener of this runtime: it ends a pending init here, an active invocation below.
      void runtime.exited.then((exit) => {
        this.onRuntimeExit(runtime);
        void this.failActiveOnExit(runtime, exit);
        if (this.pendingInit !== pending) return;
        const durationMs = performance.now() - startedAt;
        const failure = pending.error
          ? {
              errorType: pending.error.errorType ?? 'Runtime.Unknown',
              body: pending.error.body,
              status: 'error' as const,
            }
          : exitFailure(runtime, requestId, `Runtime exited with error: ${describeExit(exit)}`);
        settle({ ok: false, durationMs, failure });
      });
    });
  }

  private run(
    request: InvocationRequest,
    body: Buffer,
    startedAt: number,
    relay: StreamRelay,
  ): Promise<RuntimeOutcome | Failure> {
    const runtime = this.runtime!;
    const deadlineMs = Date.now() + this.spec.timeoutSeconds * 1000 - (performance.now() - startedAt);
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(this.timeout(request.requestId)), deadlineMs - Date.now());
      const settle = (o: RuntimeOutcome | Failure) => {
        clearTimeout(timer);
        if (this.active?.resolve === settle) this.active = undefined;
        if ('status' in o && o.status !== 'error') this.reset(runtime);
        resolve(o);
      };
      this.active = {
        requestId: request.requestId,
        deadlineMs: Math.round(deadlineMs),
        startedAt,
        relay,
        resolve: settle,
      };
      this.api.enqueue(request, body);
    });
  }

  /** A runtime that exits mid-invocation fails it with Runtime.ExitError (after a grace for its last words). */
  private async failActiveOnExit(runtime: RuntimeProcess, exit: RuntimeExit): Promise<void> {
    const active = this.active;
    if (!active) return;
    await new Promise((r) => setTimeout(r, EXIT_GRACE_MS));
    if (this.active !== active) return;
    const reason =
      exit.code === 0 && !exit.signal
        ? 'Runtime exited without providing a reason'
        : `Runtime exited with error: ${describeExit(exit)}`;
    active.resolve({ ...exitFailure(runtime, active.requestId, reason), status: 'error' });
  }

  private timeout(requestId: string): Failure {
    this.log.timedOut(requestId, this.spec.timeoutSeconds);
    return platformError(
      'Sandbox.Timedout',
      `RequestId: ${requestId} Error: Task timed out after ${this.spec.timeoutSeconds.toFixed(2)} seconds`,
      'timeout',
    );
  }

  private async finish(
    requestId: string,
    outcome: RuntimeOutcome | Failure,
    startedAt: number,
    initDurationMs: number | undefined,
    relay: StreamRelay,
  ): Promise<{ result: InvocationResult; body: Buffer }> {
    // The result is the stream's last word on the link: whatever the runtime still writes is dropped.
    relay.close();
    const durationMs = performance.now() - startedAt;
    // Let output the runtime wrote before answering reach the log ahead of END.
    await new Promise((r) => setImmediate(r));
    const maxMemoryUsedMB = this.lastRuntime?.maxMemoryUsedMB() ?? 0;
    const failed = !('kind' in outcome) || outcome.kind === 'error';
    const errorType =
      'kind' in outcome ? (outcome.kind === 'error' ? outcome.errorType : undefined) : outcome.errorType;
    const status: ReportStatus = 'status' in outcome ? outcome.status : failed ? 'error' : 'success';
    // Also when a timeout or crash cut the stream short: the caller must know it streamed.
    const streamedBytes = relay.isStarted ? relay.relayedBytes : undefined;
    const metrics = {
      durationMs,
      billedDurationMs: Math.max(1, Math.ceil(durationMs)),
      memorySizeMB: this.spec.memoryMB,
      maxMemoryUsedMB,
      initDurationMs,
    };
    const logTail = this.log.end(
      requestId,
      status,
      { ...metrics, producedBytes: streamedBytes ?? outcome.body.length },
      errorType,
    );
    const contentType = 'kind' in outcome ? outcome.contentType : 'application/json';
    return {
      result: {
        requestId,
        outcome: failed ? 'error' : 'success',
        errorType: failed ? (errorType ?? 'Runtime.Unknown') : undefined,
        contentType,
        ...metrics,
        logTail,
        streamedBytes,
      },
      body: outcome.body,
    };
  }

  private onRuntimeExit(runtime: RuntimeProcess): void {
    if (this.runtime === runtime) this.reset(runtime);
  }

  /** After a crash, timeout or failed init the next invocation starts a fresh runtime; /tmp stays. */
  private reset(runtime: RuntimeProcess): void {
    runtime.kill();
    if (this.runtime === runtime) {
      this.runtime = undefined;
      this.initialised = false;
    }
  }
}

function platformError(errorType: string, errorMessage: string, status: ReportStatus = 'error'): Failure {
  return { errorType, body: Buffer.from(JSON.stringify({ errorType, errorMessage })), status };
}

/** Over its memory the runtime is killed, and Lambda says so: Runtime.OutOfMemory, not Runtime.ExitError. */
function exitFailure(runtime: RuntimeProcess, requestId: string, reason: string): Failure {
  const errorType = runtime.killedForMemory ? 'Runtime.OutOfMemory' : 'Runtime.ExitError';
  return platformError(errorType, `RequestId: ${requestId} Error: ${reason}`);
}

function timedOut(): Failure {
  return { errorType: 'Sandbox.Timedout', body: Buffer.alloc(0), status: 'timeout' };
}
