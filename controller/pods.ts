// Converges function pods to the gateway's demand. The gateway lists the environments it wants (each with
// its own link credential); this creates a pod for each one missing and deletes pods no longer listed. The
// gateway only drops an environment that is idle or already ended, so a busy pod is never taken away.
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { FunctionSpec } from '../apis/function.ts';
import type {
  DemandedEnvironment,
  ProvisionedReport,
} from '../gateway/src/providers/kubernetes/demand-provider.ts';
import { type RunningInformer, startInformer } from '../kube/informer.ts';
import { KubeError, requestJson } from '../kube/request.ts';
import {
  type FunctionObject,
  functionsPath,
  LABEL_ENVIRONMENT,
  LABEL_FUNCTION,
  LABEL_MANAGED,
  LABEL_VERSION,
  MANAGER,
  type RevisionData,
} from '../kube/resources.ts';
import { FUNCTION_ENV_PREFIX } from '../runtime-shims/agent/config.ts';
import { CapacityReporter, refusedForCapacity } from './capacity.ts';
import { CodeError, ownerReference } from './code.ts';
import type { ControllerConfig } from './config.ts';
import { asImagePod } from './image-pod.ts';
import { asInProcessPod, runsInProcess } from './in-process-pod.ts';
import {
  ANNOTATION_CPU_AFTER_INIT,
  CPU_AFTER_INIT_ENV,
  functionResources,
  InitCpuBoost,
} from './init-cpu.ts';
import { LayerFileLists, layerVolume, type ResolvedLayer, resolveLayers } from './layers.ts';

export type PodAction = 'created' | 'deleted' | 'refused' | 'resized';

/** On the pods of environments kept initialised ahead (provisioned concurrency, ADR-51). */
export const LABEL_INITIALIZATION_TYPE = 'serval.dev/initialization-type';

export class PodConverger {
  private readonly kc: KubeConfig;
  private readonly config: ControllerConfig;
  private readonly log: (line: string) => void;
  private readonly policies = new Set<string>();
  private readonly layerFiles = new LayerFileLists();

  private readonly counted: (action: PodAction) => void;
  private readonly capacity: CapacityReporter;
  private readonly boost: InitCpuBoost;
  private pods: RunningInformer<V1Pod> | undefined;
  /** What the gateway last reported of its provisioned concurrency, beside its demand (ADR-51). */
  provisioned: ProvisionedReport[] | undefined;

  constructor(
    kc: KubeConfig,
    config: ControllerConfig,
    log: (line: string) => void,
    counted: (action: PodAction) => void = () => undefined,
  ) {
    this.kc = kc;
    this.capacity = new CapacityReporter(kc);
    this.config = config;
    this.log = log;
    this.counted = counted;
    this.boost = new InitCpuBoost(kc, config.initCpuMillicores, log, () => counted('resized'));
  }

  /** Watches function pods, so each pass compares demand with a cache instead of listing the cluster. */
  start(resyncMs: number): void {
    this.pods = startInformer<V1Pod>(
      this.kc,
      '/api/v1/pods',
      { upsert: () => undefined, remove: () => undefined },
      { labelSelector: `${LABEL_ENVIRONMENT},${LABEL_MANAGED}=${MANAGER}`, resyncMs, log: this.log },
    );
  }

  async stop(): Promise<void> {
    await this.pods?.stop();
    this.pods = undefined;
  }

  async converge(): Promise<void> {
    // Held locally: leadership can be lost (stop() clears the field) while this pass awaits.
    const informer = this.pods;
    if (!informer) throw new Error('PodConverger.converge before start');
    await informer.synced;
    const demand = await this.demand();
    const wanted = new Map(demand.map((d) => [d.environmentId, d]));
    const pods = informer.list();
    const existing = new Set<string>();
    for (const pod of pods) {
      const id = pod.metadata?.labels?.[LABEL_ENVIRONMENT] ?? '';
      existing.add(id);
      const deleting = pod.metadata?.deletionTimestamp !== undefined;
      const noRoom = refusedForCapacity(pod);
      if (!wanted.has(id)) {
        if (!deleting) await this.deletePod(pod);
      } else if (noRoom) {
        // Refused by a full node: the gateway throttles the caller; the Function tells why.
        const message = pod.status?.message ?? noRoom;
        if (await this.reportGone(id, `${noRoom}: ${message}`, true)) {
          this.counted('refused');
          await this.capacity.refused(pod, noRoom);
        }
        if (!deleting) await this.deletePod(pod);
      } else if (pod.status?.phase === 'Running') {
        await this.capacity.running(pod);
        if (wanted.get(id)?.initialised) await this.boost.initialised(pod);
      } else if (pod.status?.phase === 'Pending' && wanted.get(id)?.initialised) {
        // Its environment finished its init, so its container runs: the kubelet has not said so yet.
        await this.boost.initialised(pod);
      } else if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
        // The environment ended on its own (crash, OOM, eviction): tell the gateway, then clean up.
        await this.reportGone(
          id,
          `pod ${pod.metadata?.name} ${pod.status.phase}: ${pod.status.containerStatuses?.[0]?.state?.terminated?.reason ?? pod.status.reason ?? ''}`,
        );
        if (!deleting) await this.deletePod(pod);
      }
    }
    this.boost.retain(new Set(pods.map((p) => p.metadata?.uid ?? '')));
    for (const env of demand) {
      if (existing.has(env.environmentId)) continue;
      await this.createPod(env).catch((err) =>
        this.log(
          `pod for ${env.namespace}/${env.functionName} (${env.environmentId}): ${err instanceof Error ? err.message : err}`,
        ),
      );
    }
  }

  private async demand(): Promise<DemandedEnvironment[]> {
    const res = await fetch(`${this.config.gatewayUrl}/serval/internal/v1/environments`, {
      headers: { Authorization: `Bearer ${this.config.linkKey}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`the gateway's demand list answered ${res.status}`);
    const body = (await res.json()) as {
      environments: DemandedEnvironment[];
      provisioned?: ProvisionedReport[];
    };
    this.provisioned = body.provisioned;
    return body.environments;
  }

  /** Tells the gateway an environment ended; true when the gateway still waited for it. */
  private async reportGone(environmentId: string, reason: string, capacity = false): Promise<boolean> {
    const query = new URLSearchParams({ reason, ...(capacity ? { capacity: 'true' } : {}) });
    const res = await fetch(
      `${this.config.gatewayUrl}/serval/internal/v1/environments/${environmentId}/gone?${query}`,
      {
        method: 'POST',
        headers: { Authorization: `Bearer ${this.config.linkKey}` },
        signal: AbortSignal.timeout(10_000),
      },
    ).catch(() => undefined);
    return res?.status === 204;
  }

  private async deletePod(pod: V1Pod): Promise<void> {
    await requestJson(this.kc, `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}`, {
      method: 'DELETE',
    }).then(
      () => this.counted('deleted'),
      (err) => {
        if (!(err instanceof KubeError && err.status === 404)) throw err;
      },
    );
  }

  private async createPod(env: DemandedEnvironment): Promise<void> {
    const fn = (await requestJson(
      this.kc,
      `${functionsPath(env.namespace)}/${env.functionName}`,
    )) as FunctionObject;
    let spec: FunctionSpec = fn.spec;
    let codeConfigMap = fn.status?.codeConfigMap;
    if (env.version !== '$LATEST') {
      const revision = (await requestJson(
        this.kc,
        `/apis/apps/v1/namespaces/${env.namespace}/controllerrevisions/${env.functionName}-v${env.version}`,
      )) as { data: RevisionData };
      spec = revision.data.spec;
      codeConfigMap = revision.data.codeConfigMap;
    }
    if ((!codeConfigMap && !spec.code.image) || fn.status?.codeSha256 === undefined) {
      // A function the controller refused (bad code, bad spec) fails its invocation now; one still being
      // prepared waits for the next pass.
      const ready = fn.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'False' && ready.observedGeneration === fn.metadata?.generation) {
        await this.reportGone(
          env.environmentId,
          `${env.functionName} is not ready: ${ready.reason}: ${ready.message}`,
        );
      }
      return;
    }
    // An image function's code is in its image: no ConfigMap.
    const files = codeConfigMap ? await this.codeFiles(env.namespace, codeConfigMap) : [];
    let layers: ResolvedLayer[];
    try {
      layers = await resolveLayers(this.kc, env.namespace, spec, this.layerFiles);
    } catch (err) {
      // A layer gone since (a ConfigMap deleted by hand): the invocation fails saying so, no pod starts.
      if (!(err instanceof CodeError)) throw err;
      await this.reportGone(env.environmentId, `${env.functionName} cannot start: ${err.message}`);
      return;
    }
    await this.ensureNetworkPolicy(env.namespace);
    const boost = await this.boost.millicores();
    try {
      await requestJson(this.kc, `/api/v1/namespaces/${env.namespace}/pods`, {
        method: 'POST',
        body: podFor(env, fn, spec, codeConfigMap ?? '', files, this.config, layers, boost),
      });
    } catch (err) {
      // Created on an earlier pass that the pod cache had not caught up with yet: the name is the environment's.
      if (err instanceof KubeError && err.status === 409) return;
      throw err;
    }
    this.counted('created');
  }

  private async codeFiles(namespace: string, name: string): Promise<string[]> {
    const cm = (await requestJson(this.kc, `/api/v1/namespaces/${namespace}/configmaps/${name}`)) as {
      data?: Record<string, string>;
      binaryData?: Record<string, string>;
    };
    return [...Object.keys(cm.data ?? {}), ...Object.keys(cm.binaryData ?? {})];
  }

  /** Function pods take no inbound connections: they dial the gateway. One policy per namespace says so. */
  private async ensureNetworkPolicy(namespace: string): Promise<void> {
    if (this.policies.has(namespace)) return;
    try {
      await requestJson(this.kc, `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`, {
        method: 'POST',
        body: {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'serval-function-pods', namespace, labels: { [LABEL_MANAGED]: MANAGER } },
          spec: {
            podSelector: { matchExpressions: [{ key: LABEL_ENVIRONMENT, operator: 'Exists' }] },
            policyTypes: ['Ingress'],
            ingress: [],
          },
        },
      });
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    }
    this.policies.add(namespace);
  }
}

export function podFor(
  env: DemandedEnvironment,
  fn: FunctionObject,
  spec: FunctionSpec,
  codeConfigMap: string,
  files: string[],
  config: ControllerConfig,
  layers: ResolvedLayer[] = [],
  initCpuMillicores = 0,
): V1Pod {
  const opt = layerVolume(layers);
  // An image function's runtime is in a container the agent cannot see the cgroup of: no boost (ADR-48).
  const cpu = functionResources(spec.memoryMB, spec.code.image ? 0 : initCpuMillicores);
  const version = env.version === '$LATEST' ? 'latest' : env.version;
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${env.functionName}-${env.environmentId}`.slice(0, 253),
      namespace: env.namespace,
      labels: {
        [LABEL_FUNCTION]: env.functionName,
        [LABEL_VERSION]: version,
        [LABEL_ENVIRONMENT]: env.environmentId,
        [LABEL_MANAGED]: MANAGER,
        ...(env.initializationType ? { [LABEL_INITIALIZATION_TYPE]: env.initializationType } : {}),
      },
      ...(cpu.afterInit ? { annotations: { [ANNOTATION_CPU_AFTER_INIT]: `${cpu.afterInit}m` } } : {}),
      ownerReferences: [ownerReference({ name: fn.metadata!.name!, uid: fn.metadata!.uid! })],
    },
    spec: {
      restartPolicy: 'Never',
      ...(config.podNodeName ? { nodeName: config.podNodeName } : {}),
      // The execution role: the function's own ServiceAccount, whose token it gets only if it has one.
      serviceAccountName: spec.serviceAccountName ?? 'default',
      automountServiceAccountToken: spec.serviceAccountName !== undefined,
      enableServiceLinks: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'function',
          image: config.runtimeImage,
          workingDir: '/opt/serval',
          command: ['node', 'runtime-shims/agent/main.js'], // the image's shims are JavaScript (ADR-56)
          env: [
            { name: 'SERVAL_LINK_URL', value: `${config.linkUrl}${env.linkPath}` },
            { name: 'SERVAL_ENVIRONMENT_TOKEN', value: env.token },
            { name: 'SERVAL_CODE_DIR', value: '/var/task' },
            { name: 'SERVAL_TMP_DIR', value: '/tmp' },
            // Port 0: the agent picks one and tells the runtime (AWS_LAMBDA_RUNTIME_API).
            { name: 'SERVAL_RUNTIME_API_ADDRESS', value: '127.0.0.1:0' },
            // The container's memory limit covers the agent too: its cgroup's OOM kills tell the agent that
            // the runtime died of memory (Runtime.OutOfMemory). cgroup v2's file, then v1's.
            {
              name: 'SERVAL_CONTAINER_MEMORY_EVENTS',
              value: '/sys/fs/cgroup/memory.events:/sys/fs/cgroup/memory/memory.oom_control',
            },
            ...(cpu.afterInit ? [{ name: CPU_AFTER_INIT_ENV, value: String(cpu.afterInit) }] : []),
            // The layers' search paths (NODE_PATH, PYTHONPATH, PATH, LD_LIBRARY_PATH) start here.
            ...(opt ? [{ name: 'SERVAL_OPT_DIR', value: '/opt' }] : []),
          ],
          // The prefix marks them for the agent, which hands them to the function without it.
          envFrom: (spec.environmentFrom ?? []).map((e) => ({
            prefix: FUNCTION_ENV_PREFIX,
            secretRef: { name: e.secretRef.name },
          })),
          resources: cpu.resources,
          // Only the CPU is resized, and in place (the boost after init).
          ...(cpu.afterInit ? { resizePolicy: [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }] } : {}),
          securityContext: {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          },
          volumeMounts: [
            { name: 'code', mountPath: '/var/task', readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
            ...(opt?.mounts ?? []),
          ],
        },
      ],
      volumes: [
        {
          name: 'code',
          configMap: {
            name: codeConfigMap,
            // A custom runtime's bootstrap must be executable, as local mode writes it (a zip keeps modes).
            items: files.map((key) => ({
              key,
              path: key.replaceAll('__', '/'),
              ...(key === 'bootstrap' ? { mode: 0o755 } : {}),
            })),
          },
        },
        { name: 'tmp', emptyDir: { sizeLimit: `${spec.ephemeralStorageMB}Mi` } },
        ...(opt ? [opt.volume] : []),
      ],
    },
  };
  // An image function: the same pod, with its image beside the agent (image-pod.ts); a Node one: the agent
  // with its runtime inside (in-process-pod.ts).
  if (spec.code.image) return asImagePod(pod, env, spec);
  return runsInProcess(spec, config) ? asInProcessPod(pod, spec) : pod;
}
