// Cluster mode's deployments: `spec.deployment` on an Alias, driven by the leading controller. Traffic moves
// by patching the Alias's routing (as CodeDeploy updates a Lambda alias), progress goes to
// `status.deployment`, and each step raises an Event on the Alias. A restarted or newly elected controller
// resumes from the status.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { AliasSpec } from '../../apis/alias.ts';
import type { DeploymentSpec, DeploymentState, DeploymentStatus } from '../../apis/deployment.ts';
import type { DeploymentClock } from '../../gateway/src/deployments/clock.ts';
import {
  type DeploymentPort,
  DeploymentRun,
  isFinished,
} from '../../gateway/src/deployments/deployment-run.ts';
import { HealthJudge } from '../../gateway/src/deployments/health.ts';
import { withState } from '../../gateway/src/deployments/local-store.ts';
import { DeploymentMetrics } from '../../gateway/src/deployments/metrics.ts';
import { refusalOf } from '../../gateway/src/deployments/validate.ts';
import { KubeError, requestJson } from '../../kube/request.ts';
import type { AliasObject, FunctionObject } from '../../kube/resources.ts';
import { functionsPath, GROUP, VERSION } from '../../kube/resources.ts';
import { gatewayDeploymentClient } from './gateway-client.ts';

export interface ClusterDeploymentsConfig {
  gatewayUrl: string;
  linkKey: string;
  prometheusUrl: string | undefined;
}

interface Running {
  run: DeploymentRun;
  spec: DeploymentSpec;
}

export class ClusterDeployments {
  private readonly kc: KubeConfig;
  private readonly clock: DeploymentClock;
  private readonly config: ClusterDeploymentsConfig;
  private readonly log: (line: string) => void;
  private readonly metrics: DeploymentMetrics;
  private readonly gateway: ReturnType<typeof gatewayDeploymentClient>;
  private readonly runs = new Map<string, Running>();
  /** The status each alias's deployments last wrote, so writes build on each other without a re-read. */
  private readonly statuses = new Map<string, DeploymentStatus>();
  private stopping: Promise<void> = Promise.resolve();

  constructor(deps: {
    kc: KubeConfig;
    clock: DeploymentClock;
    config: ClusterDeploymentsConfig;
    registry: Registry;
    log: (line: string) => void;
  }) {
    this.kc = deps.kc;
    this.clock = deps.clock;
    this.config = deps.config;
    this.log = deps.log;
    this.metrics = new DeploymentMetrics(deps.registry);
    this.gateway = gatewayDeploymentClient(deps.config.gatewayUrl, deps.config.linkKey);
  }

  /** Called on every Alias reconcile with its parsed spec and its Function (undefined when missing). */
  async reconcile(alias: AliasObject, spec: AliasSpec, fn: FunctionObject | undefined): Promise<void> {
    const key = aliasKey(alias);
    const wanted = spec.deployment;
    const running = this.runs.get(key);
    if (running) {
      if (!wanted) await running.run.ask('stop', 'spec.deployment was removed');
      // A changed spec.deployment waits for the running one to end; the next reconcile starts it.
      return;
    }
    if (!wanted) return;
    // The informer's copy can predate the last status write, this controller's own before it lost and
    // regained the lease or the previous leader's: resuming from it would run a hook or a step twice, or
    // start a deployment that has already ended. The status is read fresh from the API server.
    const fresh = (await requestJson(this.kc, aliasPath(alias)).catch((err) => {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    })) as AliasObject | undefined;
    if (!fresh) return;
    const status = fresh.status?.deployment ?? {};
    this.statuses.set(key, status);
    const current = status.current;
    if (current && !isFinished(current.phase)) {
      if (same(current.spec, wanted)) return this.launch(alias, wanted, current);
      // Edited while no controller drove it: the old deployment ends rolled back, so the new one starts clean.
      await this.patchRouting(alias, current.fromVersion);
      await this.save(alias, {
        ...current,
        phase: 'RolledBack',
        targetWeight: 0,
        reason: 'replaced by a new spec.deployment',
        finishedAt: new Date(this.clock.now()).toISOString(),
      });
      return; // the routing patch brings the Alias back, fresh
    }
    const routing = spec.routingConfig?.additionalVersionWeights ?? {};
    if (wanted.targetVersion === spec.functionVersion && Object.keys(routing).length === 0) return;
    const id = deploymentId(alias, wanted, spec.functionVersion);
    if (status.history?.some((d) => d.id === id)) return;
    const published = new Set((fn?.status?.versions ?? []).map((v) => v.version));
    const hooks = new Set<string>();
    for (const name of [wanted.preTrafficHook, wanted.postTrafficHook]) {
      if (!name) continue;
      const found = await requestJson(this.kc, `${functionsPath(alias.metadata!.namespace)}/${name}`).catch(
        () => undefined,
      );
      if (found) hooks.add(name);
    }
    const state: DeploymentState = {
      id,
      strategy: wanted.strategy,
      fromVersion: spec.functionVersion,
      targetVersion: wanted.targetVersion,
      phase: 'PreTrafficHook',
      step: -1,
      targetWeight: 0,
      startedAt: new Date(this.clock.now()).toISOString(),
      spec: wanted,
    };
    const refusal = refusalOf({
      alias: spec,
      spec: wanted,
      isPublished: (v) => published.has(v),
      isFunction: (name) => hooks.has(name),
      countersAvailable: true,
      prometheusUrl: this.config.prometheusUrl,
    });
    if (refusal) {
      await this.save(alias, {
        ...state,
        phase: 'Failed',
        reason: refusal.message,
        finishedAt: state.startedAt,
      });
      await this.event(alias, 'Warning', 'DeploymentFailed', refusal.message);
      return;
    }
    this.metrics.started(metricKey(alias, spec));
    await this.save(alias, state);
    await this.event(
      alias,
      'Normal',
      'DeploymentStarted',
      `${state.fromVersion} -> ${state.targetVersion} (${state.strategy})`,
    );
    this.launch(alias, wanted, state);
  }

  /**
   * Stops driving every deployment (leadership lost, shutdown); the next leader resumes them. Resolves only
   * once every run has finished the write it was in, including runs an earlier call interrupted: a new
   * leader must not read a status that an old run is still about to change.
   */
  async interruptAll(): Promise<void> {
    const runs = [...this.runs.values()];
    this.runs.clear();
    this.stopping = Promise.all([this.stopping, ...runs.map((r) => r.run.interrupt())]).then(() => undefined);
    await this.stopping;
  }

  private launch(alias: AliasObject, spec: DeploymentSpec, state: DeploymentState): void {
    const key = aliasKey(alias);
    const aliasSpec = alias.spec;
    const port: DeploymentPort = {
      route: (primary, extra) => this.patchRouting(alias, primary, extra),
      save: (s) => this.save(alias, s),
      event: (type, reason, message) => void this.event(alias, type, reason, message),
    };
    const health = new HealthJudge(
      { counters: this.gateway.counters, prometheusUrl: this.config.prometheusUrl },
      spec.rollback,
      {
        namespace: alias.metadata!.namespace!,
        function: aliasSpec.functionName,
        alias: aliasSpec.name ?? alias.metadata!.name!,
        version: spec.targetVersion,
      },
    );
    const run = new DeploymentRun(state, {
      namespace: alias.metadata!.namespace!,
      functionName: aliasSpec.functionName,
      alias: aliasSpec.name ?? alias.metadata!.name!,
      spec,
      port,
      clock: this.clock,
      hooks: this.gateway.hooks,
      health,
      finished: () => this.runs.delete(key),
    });
    this.runs.set(key, { run, spec });
    this.log(`alias ${key}: deployment ${state.id} runs at ${state.phase}`);
    void run.start();
  }

  private async save(alias: AliasObject, state: DeploymentState): Promise<void> {
    const key = aliasKey(alias);
    const next = withState(this.statuses.get(key) ?? {}, state);
    this.statuses.set(key, next);
    this.metrics.progressed(metricKey(alias, alias.spec), state);
    await retried(() =>
      requestJson(this.kc, `${aliasPath(alias)}/status`, {
        method: 'PATCH',
        // `current: null` removes it under a merge patch; history is replaced whole.
        body: { status: { deployment: { current: next.current ?? null, history: next.history ?? [] } } },
        contentType: 'application/merge-patch+json',
      }),
    );
  }

  private async patchRouting(
    alias: AliasObject,
    primary: string,
    extra?: { version: string; weight: number },
  ) {
    await retried(() =>
      requestJson(this.kc, aliasPath(alias), {
        method: 'PATCH',
        body: {
          spec: {
            functionVersion: primary,
            routingConfig: extra ? { additionalVersionWeights: { [extra.version]: extra.weight } } : null,
          },
        },
        contentType: 'application/merge-patch+json',
      }),
    );
  }

  private async event(
    alias: AliasObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const now = new Date().toISOString();
    const { namespace, name, uid } = alias.metadata!;
    await requestJson(this.kc, `/api/v1/namespaces/${namespace}/events`, {
      method: 'POST',
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Alias', name, namespace, uid },
        type,
        reason,
        message: message.slice(0, 1024),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: { component: 'serval-controller' },
      },
    }).catch((err) =>
      this.log(
        `alias ${namespace}/${name}: event ${reason}: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
  }
}

const aliasKey = (alias: AliasObject) => `${alias.metadata?.namespace}/${alias.metadata?.name}`;

const aliasPath = (alias: AliasObject) =>
  `/apis/${GROUP}/${VERSION}/namespaces/${alias.metadata!.namespace}/aliases/${alias.metadata!.name}`;

const metricKey = (alias: AliasObject, spec: AliasSpec) => ({
  namespace: alias.metadata?.namespace ?? '',
  function: spec.functionName,
  alias: spec.name ?? alias.metadata?.name ?? '',
});

/** An API server restarting or briefly unreachable must not fail a deployment; a refusal (4xx) does. */
async function retried<T>(write: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await write();
    } catch (err) {
      if (i >= attempts || (err instanceof KubeError && err.status < 500)) throw err;
      await new Promise((r) => setTimeout(r, 1000 * i));
    }
  }
}

/** Equal as JSON values: the API server returns object keys sorted, zod in schema order. */
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Stable for one request on one Alias from one version: a re-applied manifest does not deploy again. */
function deploymentId(alias: AliasObject, spec: DeploymentSpec, from: string): string {
  const hash = createHash('sha256')
    .update(`${alias.metadata?.uid}\n${from}\n${canonical(spec)}`)
    .digest('hex');
  return `d-${hash.slice(0, 12)}`;
}
