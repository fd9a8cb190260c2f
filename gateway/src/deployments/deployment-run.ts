// One deployment, driven to its end: the pre-traffic hook, each step of the strategy on schedule with the
// target version judged in between, the post-traffic hook, and a rollback on any breach. Every transition is
// saved before traffic moves, so a restart resumes at the step it reached. Storage, traffic and events go
// through a port, so local mode (files) and cluster mode (the Alias resource) share this engine.
import type { DeploymentPhase, DeploymentSpec, DeploymentState } from '../../../apis/deployment.ts';
import { FINISHED_PHASES } from '../../../apis/deployment.ts';
import { parseStrategy, type Step, schedule } from '../../../apis/deployment-strategy.ts';
import type { DeploymentClock } from './clock.ts';
import type { HealthJudge } from './health.ts';
import type { HookRunner } from './hooks.ts';

export interface DeploymentPort {
  /** Sends all traffic to `primary`, or `extra.weight` of it to `extra.version`. */
  route(primary: string, extra?: { version: string; weight: number }): Promise<void>;
  save(state: DeploymentState): Promise<void>;
  /** A step worth telling: a Kubernetes Event in cluster mode, a log line locally. */
  event(type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export interface RunDeps {
  namespace: string;
  functionName: string;
  alias: string;
  spec: DeploymentSpec;
  port: DeploymentPort;
  clock: DeploymentClock;
  hooks: HookRunner;
  health: HealthJudge;
  /** Called once when the deployment ends (not when it is merely interrupted by a shutdown). */
  finished?: (state: DeploymentState) => void;
}

/** How often the target version is judged within a step, in strategy time (scaled like the steps). */
export const CHECK_EVERY_MS = 10_000;
/** The shortest real pause between checks, so a tiny scale does not spin. */
const MIN_CHECK_MS = 20;

export function isFinished(phase: DeploymentPhase): boolean {
  return FINISHED_PHASES.includes(phase);
}

export class DeploymentRun {
  private state: DeploymentState;
  private readonly deps: RunDeps;
  private readonly steps: Step[];
  private readonly abort = new AbortController();
  /** What the operator asked for while the loop ran: it acts on it at its next turn. */
  private request: { kind: 'stop' | 'rollback'; reason: string } | undefined;
  private done: Promise<void> | undefined;

  constructor(state: DeploymentState, deps: RunDeps) {
    this.state = { ...state };
    this.deps = deps;
    this.steps = schedule(parseStrategy(state.strategy));
  }

  get current(): DeploymentState {
    return this.state;
  }

  start(): Promise<void> {
    this.done ??= this.loop()
      // The engine must not die silently: an unexpected error (the store or API server refusing a write)
      // fails the deployment and says why, and a failure to record even that only ends this run.
      .catch((err) => this.finish('Failed', `deployment engine error: ${message(err)}`))
      .catch((err) => this.deps.port.event('Warning', 'DeploymentEngineError', message(err)));
    return this.done;
  }

  /** Ends the deployment where it is (the weights stay) or moves all traffic back, at its next turn. */
  async ask(kind: 'stop' | 'rollback', reason: string): Promise<void> {
    this.request = { kind, reason };
    this.abort.abort();
    await this.done;
  }

  /** Stops driving without ending the deployment: a restart resumes it. */
  async interrupt(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  private get interrupted(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    const { spec, hooks, port, namespace, functionName, alias } = this.deps;
    if (this.state.phase === 'PreTrafficHook') {
      if (spec.preTrafficHook) {
        port.event('Normal', 'PreTrafficHook', `running ${spec.preTrafficHook}`);
        const outcome = await hooks.run(namespace, spec.preTrafficHook, this.hookEvent('BeforeAllowTraffic'));
        if (await this.handleRequest()) return;
        // No traffic has moved yet: failing here leaves the alias exactly as it was.
        if (!outcome.ok) return this.finish('Failed', `preTrafficHook: ${outcome.reason}`);
      }
      if (this.interrupted && !this.request) return;
      await this.applyStep(0);
    } else if (this.state.phase === 'Shifting' || this.state.phase === 'Paused') {
      // A resumed deployment puts back the weights of the step it had reached (a crash may have come between
      // saving the step and moving the traffic).
      await this.route(this.steps[this.state.step]!.weight);
    }
    await this.deps.health.beginStep();
    while (this.state.phase === 'Shifting' || this.state.phase === 'Paused') {
      if (await this.handleRequest()) return;
      if (this.interrupted) return;
      const next = this.steps[this.state.step + 1];
      if (!next) break;
      const current = this.steps[this.state.step]!;
      const dueAt = (this.state.stepStartedAtMs ?? 0) + (next.atMs - current.atMs) * this.deps.clock.scale;
      const pause = Math.max(MIN_CHECK_MS, CHECK_EVERY_MS * this.deps.clock.scale);
      // Paused, a step already due must still wait a full check period, or the checks would spin.
      const wait = Math.min(pause, dueAt - this.deps.clock.now());
      await this.deps.clock.sleep(
        this.state.phase === 'Paused' ? Math.max(pause, wait) : wait,
        this.abort.signal,
      );
      if (await this.handleRequest()) return;
      if (this.interrupted) return;
      const verdict = await this.deps.health.judge();
      if (verdict.kind === 'breach') return this.rollback(verdict.reason);
      if (verdict.kind === 'unknown') {
        if (this.state.phase !== 'Paused' || this.state.reason !== verdict.reason) {
          await this.save({ phase: 'Paused', reason: verdict.reason });
          port.event('Warning', 'DeploymentPaused', verdict.reason);
        }
        continue;
      }
      if (this.state.phase === 'Paused') {
        await this.save({ phase: 'Shifting', reason: undefined });
        port.event('Normal', 'DeploymentResumed', 'the target version can be judged again');
      }
      if (this.deps.clock.now() >= dueAt) {
        await this.applyStep(this.state.step + 1);
        await this.deps.health.beginStep();
      }
    }
    if (this.interrupted && !this.request) return;
    if (spec.postTrafficHook) {
      await this.save({ phase: 'PostTrafficHook' });
      port.event('Normal', 'PostTrafficHook', `running ${spec.postTrafficHook}`);
      const outcome = await hooks.run(namespace, spec.postTrafficHook, this.hookEvent('AfterAllowTraffic'));
      if (await this.handleRequest()) return;
      if (!outcome.ok) return this.rollback(`postTrafficHook: ${outcome.reason}`);
    }
    await this.finish(
      'Succeeded',
      `all traffic of ${functionName}:${alias} is on version ${this.state.targetVersion}`,
    );
  }

  /** Acts on stop/rollback from the operator; true when the deployment has ended. */
  private async handleRequest(): Promise<boolean> {
    const request = this.request;
    if (!request) return false;
    if (request.kind === 'rollback') await this.rollback(request.reason);
    else await this.finish('Stopped', request.reason);
    return true;
  }

  private async applyStep(index: number): Promise<void> {
    const weight = this.steps[index]!.weight;
    await this.save({
      phase: 'Shifting',
      step: index,
      targetWeight: weight,
      stepStartedAtMs: this.deps.clock.now(),
    });
    await this.route(weight);
    this.deps.port.event(
      'Normal',
      'TrafficShifted',
      `step ${index + 1}/${this.steps.length}: ${Math.round(weight * 100)} % to version ${this.state.targetVersion}`,
    );
  }

  private route(weight: number): Promise<void> {
    const { fromVersion, targetVersion } = this.state;
    if (weight >= 1) return this.deps.port.route(targetVersion);
    return this.deps.port.route(fromVersion, { version: targetVersion, weight });
  }

  private async rollback(reason: string): Promise<void> {
    await this.deps.port.route(this.state.fromVersion);
    await this.finish('RolledBack', reason, 0);
  }

  private async finish(phase: DeploymentPhase, reason: string, targetWeight?: number): Promise<void> {
    if (isFinished(this.state.phase)) return;
    await this.save({
      phase,
      reason,
      finishedAt: new Date(this.deps.clock.now()).toISOString(),
      ...(targetWeight === undefined ? {} : { targetWeight }),
    });
    this.deps.port.event(phase === 'Succeeded' ? 'Normal' : 'Warning', `Deployment${phase}`, reason);
    this.deps.finished?.(this.state);
  }

  private async save(change: Partial<DeploymentState>): Promise<void> {
    this.state = { ...this.state, ...change };
    if (change.reason === undefined && 'reason' in change) delete this.state.reason;
    // A reason quotes PromQL or a hook's answer; the status field is bounded.
    else if (this.state.reason && this.state.reason.length > 1024)
      this.state.reason = `${this.state.reason.slice(0, 1021)}...`;
    await this.deps.port.save(this.state);
  }

  private hookEvent(event: 'BeforeAllowTraffic' | 'AfterAllowTraffic') {
    return {
      DeploymentId: this.state.id,
      LifecycleEvent: event,
      FunctionName: this.deps.functionName,
      Alias: this.deps.alias,
      CurrentVersion: this.state.fromVersion,
      TargetVersion: this.state.targetVersion,
    };
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
