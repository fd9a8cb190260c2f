// A container-image function's pod (code.image, ADR-40): the function's image runs as its own container, with
// its ENTRYPOINT, CMD and WORKDIR as Lambda's ImageConfig overrides them, and talks to the Serval agent, which
// runs beside it as a native sidecar from the runtime image and serves the Runtime API on the pod's loopback.
// The two share the process namespace, so that the agent can see the runtime's processes and end them.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { IMAGE_RUNTIME } from '../apis/environment-link.ts';
import type { FunctionSpec } from '../apis/function.ts';
import type { DemandedEnvironment } from '../gateway/src/providers/kubernetes/demand-provider.ts';
import { logStreamName, runtimeEnvironment } from '../runtime-shims/agent/runtime-environment.ts';

/** Where the Runtime API is in an image function's pod: Lambda's own address. */
export const IMAGE_RUNTIME_API = '127.0.0.1:9001';
/** 127.0.0.1:9001 in LISTEN state as /proc/net/tcp writes it: the agent is linked and serves the Runtime API. */
const LISTENING = '0100007F:2329 00000000:0000 0A';
/** The agent's own share, beside the function's: it relays payloads and little else. */
const AGENT_RESOURCES = {
  requests: { cpu: '50m', memory: '96Mi' },
  limits: { cpu: '500m', memory: '128Mi' },
};
/** Variables the agent sets for a runtime it starts, but which an image sets for itself (its ENV). */
const IMAGE_OWNS = ['PATH', 'LD_LIBRARY_PATH', 'AWS_EXECUTION_ENV'];

/** Turns the pod podFor made (the agent as its one container) into an image function's pod. */
export function asImagePod(pod: V1Pod, env: DemandedEnvironment, spec: FunctionSpec): V1Pod {
  const image = spec.code.image!;
  const [base] = pod.spec!.containers;
  const agent: V1Container = {
    ...base!,
    name: 'agent',
    // A native sidecar: started, and up (the probe), before the function's container; ended after it.
    restartPolicy: 'Always',
    env: [
      ...(base!.env ?? []).filter(
        (e) => e.name !== 'SERVAL_RUNTIME_API_ADDRESS' && e.name !== 'SERVAL_CODE_DIR',
      ),
      { name: 'SERVAL_RUNTIME_API_ADDRESS', value: IMAGE_RUNTIME_API },
      { name: 'SERVAL_ATTACHED_RUNTIME', value: '1' },
    ],
    envFrom: [],
    resources: AGENT_RESOURCES,
    startupProbe: {
      exec: { command: ['/bin/sh', '-c', `grep -q '${LISTENING}' /proc/net/tcp`] },
      periodSeconds: 1,
      failureThreshold: 120,
    },
    volumeMounts: [{ name: 'agent-tmp', mountPath: '/tmp' }],
  };
  const handler = spec.imageConfig?.command?.[0] ?? '';
  const vars = runtimeEnvironment({
    spec: {
      environmentId: env.environmentId,
      namespace: env.namespace,
      functionName: env.functionName,
      version: env.version,
      runtime: IMAGE_RUNTIME,
      handler,
      codeDir: '/var/task',
      memoryMB: spec.memoryMB,
      timeoutSeconds: spec.timeoutSeconds,
      region: env.region,
      logFormat: spec.logging.format,
      applicationLogLevel: spec.logging.applicationLogLevel,
      systemLogLevel: spec.logging.systemLogLevel,
      initializationType: 'on-demand',
      environment: spec.environment,
    },
    runtimeApi: IMAGE_RUNTIME_API,
    runtimeDir: '/var/runtime',
    tmpDir: '/tmp',
    passthrough: {},
    logStreamName: logStreamName(env.version, env.environmentId, new Date()),
  });
  for (const key of IMAGE_OWNS) if (spec.environment[key] === undefined) delete vars[key];
  // Lambda's _HANDLER for an image is its CMD, which only an override tells the controller.
  if (!handler) delete vars._HANDLER;
  const fn: V1Container = {
    name: 'function',
    image: image.uri,
    imagePullPolicy: 'IfNotPresent',
    ...(spec.imageConfig?.entryPoint && { command: spec.imageConfig.entryPoint }),
    ...(spec.imageConfig?.command && { args: spec.imageConfig.command }),
    ...(spec.imageConfig?.workingDirectory && { workingDir: spec.imageConfig.workingDirectory }),
    env: Object.entries(vars).map(([name, value]) => ({ name, value })),
    // The function's Secrets are its own variables here: no agent stands between them and the runtime.
    envFrom: (spec.environmentFrom ?? []).map((e) => ({ secretRef: { name: e.secretRef.name } })),
    resources: base!.resources!,
    securityContext: base!.securityContext!,
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  return {
    ...pod,
    spec: {
      ...pod.spec!,
      shareProcessNamespace: true,
      initContainers: [agent],
      containers: [fn],
      volumes: [
        ...(pod.spec!.volumes ?? []).filter((v) => v.name !== 'code'),
        { name: 'agent-tmp', emptyDir: { sizeLimit: '16Mi' } },
      ],
    },
  };
}
