// One execution environment: initialises its runtime on demand, runs one invocation at a time (or up to
// `maxConcurrency` at once in a multi-concurrency environment), enforces the init limit and the function
// timeout, and turns every way a runtime can fail into Lambda's error.
import {
  type EnvironmentSpec,
  INIT_LIMIT_MS,
  type InvocationRequest,
  type InvocationResult,
} from '../../apis/environment-link.ts';
import { AttachedRuntime } from './attached-runtime.ts';
import type { AgentConfig } from './config.ts';
import { type Failure, invocationResult, platformError, timeoutFailure } from './invocation-result.ts';
import { LogStream } from './log-stream.ts';
import type { PrestartedRuntime } from './prestarted-runtime.ts';
import { type RuntimeApiListener, RuntimeApiServer, type RuntimeOutcome } from './runtime-api/server.ts';
import { runtimeCommand } from './runtime-command.ts';
import { logStreamName, runtimeEnvironment } from './runtime-environment.ts';
import { describeExit, type RuntimeExit, RuntimeProcess } from './runtime-process.ts';
import { StreamRelay } from './stream-relay.ts';

/** An attached runtime's init starts with the agent; its container starts after the agent is up. */
const ATTACHED_START_MS = 20_000;
/** After a runtime exits mid-invocation, requests it sent just before may still be in flight. */
const EXIT_GRACE_MS = 20;
/** How long a runtime that reported an init error may take to exit by itself. */
const INIT_ERROR_EXIT_GRACE_MS = 500;

/** What the environment needs of a runtime: one it spawned, or an image's own (AttachedRuntime). */
type Runtime = RuntimeProcess | AttachedRuntime;

type InitResult = { ok: true; durationMs: number } | { ok: false; durationMs: number; failure: Failure };
/** An init phase's result; `retriedAt` is when a timed-out init was retried inside the invoke phase. */
interface InitPhase {
  init: InitResult;
  retriedAt: number | undefined;
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
  private runtime: Runtime | undefined;
  /** The runtime that ran last, kept after a reset: its peak memory is what the REPORT shows. */
  private lastRuntime: Runtime | undefined;
  /** An attached runtime's init, under way since start(); the first invocation waits for it. */
  private startedInit: Promise<InitResult> | undefined;
  /** The request an attached runtime's init failure is reported for: the first one to arrive. */
  private firstRequestId = '';
  /** An attached runtime cannot be started again: once it is reset, the environment has ended. */
  private readonly ended: () => void;
  private initialised = false;
  private pendingInit: PendingInit | undefined;
  /** The init phase under way, which invocations arriving meanwhile (multi-concurrency) wait for. */
  private initialising: Promise<InitPhase> | undefined;
  /** Invocations handed to the runtime, by request id: at most one unless multi-concurrent. */
  private readonly active = new Map<string, ActiveInvocation>();
  /** Runs several invocations at once (the spec sets maxConcurrency). */
  readonly concurrent: boolean;
  private readonly streamName: string;
  /** Runs once, between the first init that succeeds and its handler (the init CPU boost's resize, ADR-48). */
  private afterFirstInit: (() => Promise<void>) | undefined;
  /** A pre-warmed environment's runtime, waiting for this function (ADR-50): the first init uses it. */
  private prestarted: PrestartedRuntime | undefined;

  constructor(
    spec: EnvironmentSpec,
    config: AgentConfig,
    sink: (line: string) => void,
    ended: () => void = () => undefined,
    afterFirstInit?: () => Promise<void>,
    prestarted?: PrestartedRuntime,
  ) {
    this.spec = spec;
    this.prestarted = prestarted;
    this.ended = ended;
    this.afterFirstInit = afterFirstInit;
    this.config = config;
    this.log = new LogStream(spec, sink);
    this.concurrent = spec.maxConcurrency !== undefined;
    this.api = new RuntimeApiServer(this, { concurrent: this.concurrent });
    this.streamName = logStreamName(spec.version, spec.environmentId, new Date());
  }

  async start(): Promise<void> {
    const port = await this.api.listen(this.config.runtimeApiHost, this.config.runtimeApiPort);
    this.runtimeApiAddress = `${this.config.runtimeApiHost}:${port}`;
    // The image's runtime starts with its container, as soon as the Runtime API is there.
    if (this.config.attachedRuntime) this.startedInit = this.init(INIT_LIMIT_MS + ATTACHED_START_MS, '');
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
    this.prestarted?.kill();
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
    // Another invocation's init is under way (multi-concurrency): this one waits for it, not a second one.
    const joining = this.initialised ? undefined : this.initialising;
    // As in Lambda, the init phase's record comes before the invocation's.
    if (!this.initialised && !joining) this.log.initStart();
    this.log.start(requestId, request.traceId);
    let initDurationMs: number | undefined;
    let invokePhaseStart: number | undefined;
    if (joining) {
      const { init } = await joining;
      if (!init.ok) return this.finish(requestId, init.failure, performance.now(), undefined, relay);
    } else if (!this.initialised) {
      const phase = this.initPhase(requestId);
      this.initialising = phase;
      const { init, retriedAt } = await phase.finally(() => {
        if (this.initialising === phase) this.initialising = undefined;
      });
      invokePhaseStart = retriedAt;
      initDurationMs = init.durationMs;
      if (!init.ok) return this.finish(requestId, init.failure, performance.now(), initDurationMs, relay);
    }
    const startedAt = invokePhaseStart ?? performance.now();
    const outcome = await this.run(request, body, startedAt, relay);
    return this.finish(requestId, outcome, startedAt, initDurationMs, relay);
  }

  /** Init for the invocation `requestId`; a timed-out init is retried inside the invoke phase, as Lambda does. */
  private async initPhase(requestId: string): Promise<InitPhase> {
    this.firstRequestId = requestId;
    let retriedAt: number | undefined;
    // An image's runtime began its init with the container (start()); a zip's begins now.
    let init = await (this.startedInit ?? this.init(INIT_LIMIT_MS, requestId));
    this.startedInit = undefined;
    if (!init.ok && init.failure.status === 'timeout' && this.config.attachedRuntime) {
      init.failure = platformError(
        'Sandbox.Timedout',
        `RequestId: ${requestId} Error: the function's image did not call the Runtime API within ${(INIT_LIMIT_MS + ATTACHED_START_MS) / 1000} seconds of its environment's start`,
      );
    } else if (!init.ok && init.failure.status === 'timeout') {
      // The retry is bounded by the function timeout.
      this.log.initReport(init.durationMs, 'timeout');
      this.log.initStart('invoke');
      retriedAt = performance.now();
      init = await this.init(this.spec.timeoutSeconds * 1000, requestId);
      if (!init.ok && init.failure.status === 'timeout') init.failure = this.timeout(requestId);
    }
    if (!init.ok && init.failure.status !== 'timeout')
      this.log.initReport(init.durationMs, 'error', init.failure.errorType);
    // After the init's duration is taken and before the invoke phase's starts: neither counts the wait.
    const after = init.ok ? this.afterFirstInit : undefined;
    if (after) {
      this.afterFirstInit = undefined;
      await after();
    }
    return { init, retriedAt };
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
    return this.active.get(requestId)?.deadlineMs ?? Date.now();
  }

  outcome(requestId: string, outcome: RuntimeOutcome): void {
    this.active.get(requestId)?.resolve(outcome);
  }

  responseStream(requestId: string): StreamRelay {
    const active = this.active.get(requestId);
    if (active) return active.relay;
    // Not the active invocation (it ended meanwhile): the body is read and nothing is relayed.
    const orphan = new StreamRelay(requestId, () => {});
    orphan.close();
    return orphan;
  }

  // --- Phases -------------------------------------------------------------------------------------------

  private init(limitMs: number, requestId: string): Promise<InitResult> {
    this.api.resetForNewRuntime();
    const startedAt = performance.now();
    if (this.config.attachedRuntime)
      return this.awaitInit(new AttachedRuntime(), startedAt, limitMs, requestId);
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
    const output = (s: string) => this.log.runtimeOutput(s);
    // Only the first init: a runtime that crashed or timed out is replaced by a fresh one, as in Lambda.
    const prestarted = this.prestarted?.take(env, this.spec.environment, this.spec.codeDir, output);
    this.prestarted = undefined;
    if (prestarted) return this.awaitInit(prestarted, startedAt, limitMs, requestId);
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
    const runtime = new RuntimeProcess(command.file, command.args, this.spec.codeDir, env, output, {
      memoryMB: this.spec.memoryMB,
      cgroup: this.config.memoryCgroup,
      containerMemoryEvents: this.config.containerMemoryEvents,
    });
    return this.awaitInit(runtime, startedAt, limitMs, requestId);
  }

  /** Waits for the runtime's first /next (init done), an init error, its exit or the limit. */
  private awaitInit(
    runtime: Runtime,
    startedAt: number,
    limitMs: number,
    requestId: string,
  ): Promise<InitResult> {
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
          : exitFailure(
              runtime,
              requestId || this.firstRequestId,
              `Runtime exited with error: ${describeExit(exit)}`,
            );
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
        if (this.active.get(request.requestId)?.resolve === settle) this.active.delete(request.requestId);
        // A timeout resets the environment; with several invocations at once the others keep running, and
        // the late answer of the timed-out one is refused as an unknown request id (ADR-42).
        if ('status' in o && o.status !== 'error' && !this.concurrent) this.reset(runtime);
        resolve(o);
      };
      this.active.set(request.requestId, {
        requestId: request.requestId,
        deadlineMs: Math.round(deadlineMs),
        startedAt,
        relay,
        resolve: settle,
      });
      this.api.enqueue(request, body);
    });
  }

  /** A runtime that exits mid-invocation fails each it ran with Runtime.ExitError (after a grace for its last words). */
  private async failActiveOnExit(runtime: Runtime, exit: RuntimeExit): Promise<void> {
    const ended = [...this.active.values()];
    if (ended.length === 0) return;
    await new Promise((r) => setTimeout(r, EXIT_GRACE_MS));
    const reason =
      exit.code === 0 && !exit.signal
        ? 'Runtime exited without providing a reason'
        : `Runtime exited with error: ${describeExit(exit)}`;
    for (const active of ended) {
      if (this.active.get(active.requestId) !== active) continue;
      active.resolve({ ...exitFailure(runtime, active.requestId, reason), status: 'error' });
    }
  }

  private timeout(requestId: string): Failure {
    return timeoutFailure(this.log, requestId, this.spec.timeoutSeconds);
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
    return invocationResult(this.spec, this.log, {
      requestId,
      outcome,
      durationMs,
      initDurationMs,
      maxMemoryUsedMB,
      relay,
    });
  }

  private onRuntimeExit(runtime: Runtime): void {
    if (this.runtime === runtime) this.reset(runtime);
  }

  /** After a crash, timeout or failed init the next invocation starts a fresh runtime; /tmp stays. */
  private reset(runtime: Runtime): void {
    runtime.kill();
    if (this.runtime === runtime) {
      this.runtime = undefined;
      this.initialised = false;
      if (this.config.attachedRuntime) this.ended();
    }
  }
}

/** Over its memory the runtime is killed, and Lambda says so: Runtime.OutOfMemory, not Runtime.ExitError. */
function exitFailure(runtime: Runtime, requestId: string, reason: string): Failure {
  const errorType = runtime.killedForMemory ? 'Runtime.OutOfMemory' : 'Runtime.ExitError';
  return platformError(errorType, `RequestId: ${requestId} Error: ${reason}`);
}

function timedOut(): Failure {
  return { errorType: 'Sandbox.Timedout', body: Buffer.alloc(0), status: 'timeout' };
}
