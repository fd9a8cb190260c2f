// Local mode's deployments: the gateway validates a deployment, drives it with a DeploymentRun whose port
// writes the alias in the AliasStore and the progress in the data directory, and resumes unfinished ones
// at start-up.
import { randomBytes } from 'node:crypto';
import {
  type DeploymentSpec,
  DeploymentSpecSchema,
  type DeploymentState,
  type DeploymentStatus,
} from '../../../apis/deployment.ts';
import { ApiError } from '../../../apis/errors.ts';
import type { FunctionRegistry } from '../registry/function-registry.ts';
import type { AliasStore } from '../versions/alias-store.ts';
import type { VersionStore } from '../versions/version-store.ts';
import type { DeploymentClock } from './clock.ts';
import type { VersionCounters } from './counters.ts';
import { type DeploymentPort, DeploymentRun } from './deployment-run.ts';
import { HealthJudge } from './health.ts';
import type { HookRunner } from './hooks.ts';
import { type AliasRef, DeploymentStore } from './local-store.ts';
import type { DeploymentMetrics } from './metrics.ts';
import { refusalOf } from './validate.ts';

export interface LocalDeploymentsDeps {
  dataDir: string;
  registry: FunctionRegistry;
  versions: VersionStore;
  aliases: AliasStore;
  hooks: HookRunner;
  counters: VersionCounters;
  /** Whether the gateway keeps metrics: the thresholds read them. */
  metricsOn: boolean;
  prometheusUrl: string | undefined;
  metrics: DeploymentMetrics | undefined;
  clock: DeploymentClock;
  log: (line: string) => void;
}

export interface DeploymentView extends DeploymentStatus {
  /** The alias's routing now. */
  functionVersion: string;
  additionalVersionWeights: Record<string, number>;
}

export class LocalDeployments {
  private readonly deps: LocalDeploymentsDeps;
  private readonly store: DeploymentStore;
  private readonly runs = new Map<string, DeploymentRun>();

  constructor(deps: LocalDeploymentsDeps) {
    this.deps = deps;
    this.store = new DeploymentStore(deps.dataDir);
  }

  /** Picks up every deployment a previous gateway left unfinished. */
  resume(): void {
    for (const { ref, state } of this.store.unfinished()) {
      const spec = this.specOf(state);
      this.deps.log(`deployment ${state.id} of ${ref.functionName}:${ref.alias} resumes at ${state.phase}`);
      this.launch(ref, spec, state);
    }
  }

  /** The id of the deployment in progress on the alias, if any. */
  runningOn(ref: AliasRef): string | undefined {
    return this.runs.get(key(ref))?.current.id;
  }

  view(ref: AliasRef): DeploymentView {
    const alias = this.aliasOf(ref);
    return {
      ...this.store.read(ref),
      functionVersion: alias.spec.functionVersion,
      additionalVersionWeights: alias.spec.routingConfig?.additionalVersionWeights ?? {},
    };
  }

  start(ref: AliasRef, input: unknown): DeploymentState {
    const parsed = DeploymentSpecSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ApiError(
        'InvalidParameterValueException',
        `${issue.path.join('.') || 'deployment'}: ${issue.message}`,
      );
    }
    const spec = parsed.data;
    const alias = this.aliasOf(ref);
    const running = this.runs.get(key(ref));
    if (running)
      throw new ApiError(
        'ResourceConflictException',
        `deployment ${running.current.id} is in progress on ${ref.functionName}:${ref.alias}; stop or roll it back first`,
      );
    const from = alias.spec.functionVersion;
    const refusal = refusalOf({
      alias: alias.spec,
      spec,
      isPublished: (v) => this.deps.versions.get(ref.namespace, ref.functionName, v) !== undefined,
      isFunction: (name) => this.deps.registry.get(ref.namespace, name) !== undefined,
      countersAvailable: this.deps.metricsOn,
      prometheusUrl: this.deps.prometheusUrl,
    });
    if (refusal) throw new ApiError(refusal.type, refusal.message);
    const state: DeploymentState = {
      id: `d-${randomBytes(6).toString('hex')}`,
      strategy: spec.strategy,
      fromVersion: from,
      targetVersion: spec.targetVersion,
      phase: 'PreTrafficHook',
      step: -1,
      targetWeight: 0,
      startedAt: new Date(this.deps.clock.now()).toISOString(),
      spec,
    };
    this.store.save(ref, state);
    this.deps.metrics?.started(metricKey(ref));
    this.deps.log(
      `deployment ${state.id} of ${ref.functionName}:${ref.alias}: ${from} -> ${spec.targetVersion} (${spec.strategy})`,
    );
    this.launch(ref, spec, state);
    return state;
  }

  /** Ends the running deployment; the weights stay where they are. */
  async stop(ref: AliasRef): Promise<DeploymentState> {
    return this.ask(ref, 'stop', 'stopped by the operator');
  }

  /**
   * Moves all traffic back to the version the deployment started from: of the running deployment, or of the
   * last one when it was stopped half-way.
   */
  async rollback(ref: AliasRef): Promise<DeploymentState> {
    if (this.runs.has(key(ref))) return this.ask(ref, 'rollback', 'rolled back by the operator');
    const last = this.store.read(ref).history?.[0];
    if (last?.phase !== 'Stopped')
      throw new ApiError(
        'ResourceConflictException',
        `no deployment of ${ref.functionName}:${ref.alias} to roll back`,
      );
    this.route(ref, last.fromVersion);
    const state: DeploymentState = {
      ...last,
      phase: 'RolledBack',
      targetWeight: 0,
      reason: 'rolled back by the operator after it was stopped',
      finishedAt: new Date(this.deps.clock.now()).toISOString(),
    };
    this.store.save(ref, state);
    this.deps.metrics?.progressed(metricKey(ref), state);
    return state;
  }

  /** Stops driving every deployment without ending any: the next start resumes them. */
  async close(): Promise<void> {
    await Promise.all([...this.runs.values()].map((r) => r.interrupt()));
  }

  private async ask(ref: AliasRef, kind: 'stop' | 'rollback', reason: string): Promise<DeploymentState> {
    const run = this.runs.get(key(ref));
    if (!run)
      throw new ApiError(
        'ResourceConflictException',
        `no deployment in progress on ${ref.functionName}:${ref.alias}`,
      );
    await run.ask(kind, reason);
    return run.current;
  }

  private launch(ref: AliasRef, spec: DeploymentSpec, state: DeploymentState): void {
    const { deps } = this;
    const port: DeploymentPort = {
      route: async (primary, extra) => this.route(ref, primary, extra),
      save: async (s) => {
        this.store.save(ref, s);
        deps.metrics?.progressed(metricKey(ref), s);
      },
      event: (type, reason, message) =>
        deps.log(
          `deployment ${state.id} of ${ref.functionName}:${ref.alias}: ${type === 'Warning' ? 'warning: ' : ''}${reason}: ${message}`,
        ),
    };
    const health = new HealthJudge(
      { counters: deps.counters, prometheusUrl: deps.prometheusUrl },
      spec.rollback,
      {
        namespace: ref.namespace,
        function: ref.functionName,
        alias: ref.alias,
        version: spec.targetVersion,
      },
    );
    const run = new DeploymentRun(state, {
      namespace: ref.namespace,
      functionName: ref.functionName,
      alias: ref.alias,
      spec,
      port,
      clock: deps.clock,
      hooks: deps.hooks,
      health,
      finished: () => this.runs.delete(key(ref)),
    });
    this.runs.set(key(ref), run);
    void run.start();
  }

  private route(ref: AliasRef, primary: string, extra?: { version: string; weight: number }): void {
    const alias = this.aliasOf(ref);
    const { routingConfig: _r, ...rest } = alias.spec;
    this.deps.aliases.put(ref.namespace, ref.alias, {
      ...rest,
      functionVersion: primary,
      ...(extra ? { routingConfig: { additionalVersionWeights: { [extra.version]: extra.weight } } } : {}),
    });
  }

  private aliasOf(ref: AliasRef) {
    const alias = this.deps.aliases.get(ref.namespace, ref.functionName, ref.alias);
    if (!alias)
      throw new ApiError('ResourceNotFoundException', `Alias not found: ${ref.functionName}:${ref.alias}`);
    return alias;
  }

  /** The spec a saved deployment was started with (kept in its state, so a restart needs nothing else). */
  private specOf(state: DeploymentState): DeploymentSpec {
    return DeploymentSpecSchema.parse(state.spec);
  }
}

const key = (ref: AliasRef) => `${ref.namespace}/${ref.functionName}/${ref.alias}`;
const metricKey = (ref: AliasRef) => ({
  namespace: ref.namespace,
  function: ref.functionName,
  alias: ref.alias,
});
