// Which pods the controller makes in-process (ADR-58), and that such a pod differs from the agent's only by
// its command: the same variables, volumes, resources and security settings.
import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema } from '../apis/function.ts';
import type { DemandedEnvironment } from '../gateway/src/providers/kubernetes/demand-provider.ts';
import type { FunctionObject } from '../kube/resources.ts';
import { type ControllerConfig, ControllerConfigError, parseControllerConfig } from './config.ts';
import { podFor } from './pods.ts';

const env: DemandedEnvironment = {
  environmentId: 'e1',
  namespace: 'ns',
  functionName: 'hello',
  version: '$LATEST',
  runtime: 'nodejs22.x',
  memoryMB: 256,
  region: 'eu-west-1',
  linkPath: '/agent/v1/environments/e1/link',
  token: 'secret',
  requestedAt: new Date(0).toISOString(),
};
const fn = { metadata: { name: 'hello', uid: 'u1' } } as FunctionObject;
const required = {
  SERVAL_GATEWAY_URL: 'http://gw:8081',
  SERVAL_LINK_URL: 'ws://gw:8081',
  SERVAL_LINK_KEY: 'k',
};
/** With the mode on (it is off by default in a cluster, ADR-58), unless `extra` says otherwise. */
const config = (extra: Record<string, string> = {}): ControllerConfig =>
  parseControllerConfig({ ...required, SERVAL_NODE_IN_PROCESS: 'on', ...extra });
const spec = (extra: Record<string, unknown>) =>
  FunctionSpecSchema.parse({
    runtime: 'nodejs22.x',
    handler: 'index.handler',
    code: { inline: { 'index.mjs': 'export const handler = async () => 1;' } },
    memoryMB: 256,
    environmentFrom: [{ secretRef: { name: 'hello-secrets' } }],
    layers: [],
    ...extra,
  });
const command = (s: ReturnType<typeof spec>, c: ControllerConfig) =>
  podFor(env, fn, s, 'hello-code', ['index.mjs'], c, [], 1000).spec!.containers[0]!.command;
const AGENT = ['node', 'runtime-shims/agent/main.js'];

describe('an in-process pod (ADR-58)', () => {
  it('is off by default: a reset costs the whole pod', () => {
    expect(parseControllerConfig(required).nodeInProcess).toBe(false);
    expect(command(spec({}), parseControllerConfig(required))).toEqual(AGENT);
  });

  it('is what a nodejs* zip function gets with it on: pod.sh, then Node with 90 % of memory as its heap', () => {
    expect(config().nodeInProcess).toBe(true);
    expect(command(spec({}), config())).toEqual([
      '/bin/bash',
      'runtime-shims/node/in-process/pod.sh',
      'node',
      '--max-old-space-size=230',
      'runtime-shims/node/in-process/main.js',
    ]);
    expect(command(spec({ runtime: 'nodejs24.x', memoryMB: 1024 }), config())![3]).toBe(
      '--max-old-space-size=921',
    );
  });

  it('differs from the agent’s pod only in its command', () => {
    const inProcess = podFor(env, fn, spec({}), 'hello-code', ['index.mjs'], config(), [], 1000);
    const agent = podFor(
      env,
      fn,
      spec({}),
      'hello-code',
      ['index.mjs'],
      config({ SERVAL_NODE_IN_PROCESS: 'off' }),
      [],
      1000,
    );
    expect(agent.spec!.containers[0]!.command).toEqual(AGENT);
    const [a, b] = [inProcess, agent].map((p) => {
      const { command: _, ...rest } = p.spec!.containers[0]!;
      return { ...p, spec: { ...p.spec, containers: [rest] } };
    });
    expect(a).toEqual(b);
    // What pod.sh needs of it: the link, its credential, the container's cgroup files, the init boost.
    const vars = Object.fromEntries(inProcess.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(vars).toMatchObject({
      SERVAL_LINK_URL: 'ws://gw:8081/agent/v1/environments/e1/link',
      SERVAL_ENVIRONMENT_TOKEN: 'secret',
      SERVAL_CONTAINER_MEMORY_EVENTS: '/sys/fs/cgroup/memory.events:/sys/fs/cgroup/memory/memory.oom_control',
      SERVAL_CPU_AFTER_INIT_MILLICORES: '145',
    });
  });

  it('is not for Python, custom runtimes, images, a wss:// link, or with the setting off', () => {
    expect(command(spec({ runtime: 'python3.12' }), config())).toEqual(AGENT);
    expect(command(spec({ runtime: 'provided.al2023', handler: undefined }), config())).toEqual(AGENT);
    expect(command(spec({ runtime: 'nodejs22.x' }), config({ SERVAL_NODE_IN_PROCESS: 'off' }))).toEqual(
      AGENT,
    );
    // bash's /dev/tcp speaks no TLS: the agent dials those.
    expect(command(spec({}), config({ SERVAL_LINK_URL: 'wss://gw:8443' }))).toEqual(AGENT);
    const image = podFor(
      { ...env, runtime: 'image' },
      fn,
      FunctionSpecSchema.parse({ code: { image: { uri: 'registry.local/hello:1' } }, memoryMB: 256 }),
      '',
      [],
      config(),
    );
    expect(image.spec!.containers.map((c) => c.command)).not.toContainEqual(
      expect.arrayContaining(['runtime-shims/node/in-process/pod.sh']),
    );
  });

  it('refuses a setting that is neither on nor off', () => {
    expect(() => config({ SERVAL_NODE_IN_PROCESS: 'yes' })).toThrow(ControllerConfigError);
    expect(() => config({ SERVAL_NODE_IN_PROCESS: 'yes' })).toThrow(
      /SERVAL_NODE_IN_PROCESS must be "on" or "off"/,
    );
  });
});
