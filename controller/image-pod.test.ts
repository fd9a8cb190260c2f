// The pod an image function gets: the image as the function container with ImageConfig as Kubernetes'
// command/args/workingDir, Lambda's variables on it, and the agent as a native sidecar beside it.
import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema } from '../apis/function.ts';
import type { DemandedEnvironment } from '../gateway/src/providers/kubernetes/demand-provider.ts';
import type { FunctionObject } from '../kube/resources.ts';
import { isSibling } from '../runtime-shims/agent/attached-runtime.ts';
import type { ControllerConfig } from './config.ts';
import { podFor } from './pods.ts';

const env: DemandedEnvironment = {
  environmentId: 'e1',
  namespace: 'ns',
  functionName: 'thumbs',
  version: '$LATEST',
  runtime: 'image',
  memoryMB: 512,
  region: 'eu-west-1',
  linkPath: '/agent/v1/environments/e1',
  token: 'secret',
  requestedAt: new Date(0).toISOString(),
};
const fn = { metadata: { name: 'thumbs', uid: 'u1' } } as FunctionObject;
const config = { linkUrl: 'ws://gw:8081', runtimeImage: 'serval-runtime:dev' } as ControllerConfig;
const spec = (extra: Record<string, unknown>) =>
  FunctionSpecSchema.parse({
    code: { image: { uri: 'registry.local/thumbs:1' } },
    memoryMB: 512,
    environment: { GREETING: 'hi', PATH: '/app/bin' },
    environmentFrom: [{ secretRef: { name: 'thumb-secrets' } }],
    ...extra,
  });
const vars = (c: { env?: { name: string; value?: string }[] }) =>
  Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

describe('an image function pod', () => {
  it("runs the image as it is, with Lambda's variables, and the agent as a sidecar started first", () => {
    const pod = podFor(env, fn, spec({}), '', [], config);
    expect(pod.spec!.shareProcessNamespace).toBe(true);
    const [fnContainer] = pod.spec!.containers;
    expect(pod.spec!.containers).toHaveLength(1);
    expect(fnContainer).toMatchObject({ name: 'function', image: 'registry.local/thumbs:1' });
    // No override: the image's own ENTRYPOINT, CMD and WORKDIR.
    expect(fnContainer).not.toHaveProperty('command');
    expect(fnContainer).not.toHaveProperty('args');
    expect(fnContainer).not.toHaveProperty('workingDir');
    expect(fnContainer!.resources).toEqual({
      limits: { memory: '512Mi', cpu: '289m' },
      requests: { memory: '512Mi', cpu: '289m' },
    });
    expect(fnContainer!.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    const v = vars(fnContainer!);
    expect(v).toMatchObject({
      AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
      AWS_LAMBDA_FUNCTION_NAME: 'thumbs',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_REGION: 'eu-west-1',
      LAMBDA_TASK_ROOT: '/var/task',
      GREETING: 'hi',
      PATH: '/app/bin', // the function's own value; without one the image's ENV PATH stands
    });
    // Unknown without an override (the CMD is the image's), and the image sets these itself.
    expect(v).not.toHaveProperty('_HANDLER');
    expect(v).not.toHaveProperty('LD_LIBRARY_PATH');
    expect(v).not.toHaveProperty('AWS_EXECUTION_ENV');
    expect(v).not.toHaveProperty('SERVAL_ENVIRONMENT_TOKEN');
    // The function's Secrets are its own variables (no agent prefix between them).
    expect(fnContainer!.envFrom).toEqual([{ secretRef: { name: 'thumb-secrets' } }]);

    const [agent] = pod.spec!.initContainers!;
    expect(agent).toMatchObject({ name: 'agent', image: 'serval-runtime:dev', restartPolicy: 'Always' });
    expect(vars(agent!)).toMatchObject({
      SERVAL_RUNTIME_API_ADDRESS: '127.0.0.1:9001',
      SERVAL_ATTACHED_RUNTIME: '1',
      SERVAL_ENVIRONMENT_TOKEN: 'secret',
      SERVAL_LINK_URL: 'ws://gw:8081/agent/v1/environments/e1',
    });
    expect(agent!.startupProbe?.exec?.command?.join(' ')).toContain('0100007F:2329');
    expect(pod.spec!.volumes!.map((v) => v.name).sort()).toEqual(['agent-tmp', 'tmp']);
  });

  it("maps Lambda's ImageConfig onto command, args and workingDir", () => {
    const imageConfig = {
      entryPoint: ['/entry.sh', '-x'],
      command: ['app.handler'],
      workingDirectory: '/srv',
    };
    const [c] = podFor(env, fn, spec({ imageConfig }), '', [], config).spec!.containers;
    expect(c).toMatchObject({ command: ['/entry.sh', '-x'], args: ['app.handler'], workingDir: '/srv' });
    expect(vars(c!)._HANDLER).toBe('app.handler');
  });

  it('leaves a zip function pod as it was: the agent is its one container', () => {
    const zip = FunctionSpecSchema.parse({
      runtime: 'nodejs24.x',
      handler: 'i.h',
      code: { inline: { 'i.mjs': '' } },
    });
    const pod = podFor(env, fn, zip, 'thumbs-code-1', ['i.mjs'], config);
    expect(pod.spec!.initContainers).toBeUndefined();
    expect(pod.spec!.containers[0]).toMatchObject({ image: 'serval-runtime:dev', name: 'function' });
  });
});

describe("the agent's view of the runtime's processes", () => {
  it('takes only a container beside its own in the pod for the runtime', () => {
    const agent = '/kubepods/burstable/pod1/agentid';
    expect(isSibling(agent, '/kubepods/burstable/pod1/fnid')).toBe(true);
    expect(isSibling(agent, '/kubepods/burstable/pod2/fnid')).toBe(false);
    expect(isSibling(agent, '/')).toBe(false);
    // A cgroup namespace shows the agent's own as / and its neighbours' as /../<id>.
    expect(isSibling('/', '/../fnid')).toBe(true);
    expect(isSibling('/user.slice/user-0.slice/session-1.scope', '/init.scope')).toBe(false);
    expect(isSibling(agent, '')).toBe(false);
  });
});
