// Serval on a real node: containerd, runc, the CNI bridge and a kubelet (node/real-node.ts) run the function
// pods the controller creates, from the runtime image the Dockerfile builds (node/images.sh). A Function is
// applied, invoked cold and warm, changed, published, aliased and deleted; a running pod shows the security
// settings and memory limit the controller asked for. Opt in with SERVAL_REAL_NODE=1 (docs/kubernetes.md).

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makeZip } from '../support/zip.ts';
import { deployChartPods } from './node/chart-pods.ts';
import {
  buildFunctionImage,
  type RealNode,
  RUNTIME_IMAGE,
  realNodeMissing,
  SERVAL_IMAGE,
} from './node/real-node.ts';
import {
  aliasManifest,
  functionManifest,
  NODE,
  rigAvailable,
  type ServalRig,
  startServalRig,
} from './rig.ts';

const NS = 'real';
const CHARTED = 'charted';
const wanted = process.env.SERVAL_REAL_NODE === '1';
const missing = wanted ? realNodeMissing() : undefined;
if (wanted && missing && process.env.CI) throw new Error(`SERVAL_REAL_NODE=1 but ${missing}`);

describe.skipIf(!rigAvailable || !wanted || missing !== undefined)('Serval on a real node', () => {
  let rig: ServalRig<RealNode>;
  const kubectl = (args: string[], input?: string) => rig.kubectl(args, input);
  const json = (args: string[]) => rig.json(args);
  const invoke = (name: string, payload: unknown = {}) => rig.invoke(NS, name, payload);
  const ready = (name: string) =>
    rig.until(
      `${name} Ready`,
      async () =>
        (await json(['get', 'function', name, '-n', NS])).status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
        ),
      120_000,
    );
  const publish = async (name: string, version: string) => {
    await kubectl(['annotate', 'function', name, '-n', NS, `serval.dev/publish=${version}`, '--overwrite']);
    await rig.until(
      `version ${version}`,
      async () => (await json(['get', 'function', name, '-n', NS])).status.latestVersion === version,
    );
  };
  /** Pod logs and the rig's log, for a failure's message. */
  const diagnose = async (fn: string) => {
    const pods = await json(['get', 'pods', '-n', NS, '-l', `serval.dev/function=${fn}`]).catch(() => ({
      items: [],
    }));
    return pods.items
      .map(
        (p: any) => `${p.metadata.name} ${JSON.stringify(p.status)}\n${rig.node.podLog(NS, p.metadata.name)}`,
      )
      .concat(rig.log.slice(-30))
      .join('\n');
  };

  beforeAll(async () => {
    // In-process Node pods (ADR-58, off by default) are what this suite runs, an OOM kill included.
    rig = await startServalRig([NS, CHARTED], {
      realNode: true,
      controllerEnv: { SERVAL_NODE_IN_PROCESS: 'on' },
    });
  }, 900_000);

  afterAll(async () => {
    await rig?.stop();
  }, 180_000);

  it('runs a Function in a real pod: cold, warm, new code, versions, a weighted alias, delete', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'hello', 'export const handler = async (e) => ({ v: "one", e })'),
    );
    await ready('hello');
    const cold = await rig.until(
      'hello answers',
      async () => {
        const r = await invoke('hello', { a: 1 });
        return r.status === 404 ? undefined : r;
      },
      120_000,
    );
    expect(cold, await diagnose('hello')).toMatchObject({ status: 200, error: null });
    expect(JSON.parse(cold.body)).toEqual({ v: 'one', e: { a: 1 } });
    const warm = await invoke('hello', { a: 2 });
    expect(JSON.parse(warm.body)).toEqual({ v: 'one', e: { a: 2 } });

    // The pod is a container on the node: the runtime image from containerd, an address on the bridge.
    const pods = await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=hello']);
    const pod = pods.items.find((p: any) => p.status.phase === 'Running');
    expect(pod.spec.nodeName).toBe(NODE);
    expect(pod.status.podIP.startsWith(rig.node.ip.replace(/\.1$/, '.'))).toBe(true);
    expect(pod.status.containerStatuses[0]).toMatchObject({ image: RUNTIME_IMAGE, ready: true });
    expect(pod.status.containerStatuses[0].containerID).toMatch(/^containerd:\/\//);
    expect(await rig.node.ctr(['containers', 'ls', '-q'])).toContain(
      pod.status.containerStatuses[0].containerID.replace('containerd://', ''),
    );

    await kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'hello', 'export const handler = async () => ({ v: "two" })'),
    );
    await rig.until('code two', async () => JSON.parse((await invoke('hello')).body).v === 'two', 120_000);
    await publish('hello', '1');
    await kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'hello', 'export const handler = async () => ({ v: "three" })'),
    );
    await rig.until(
      'code three',
      async () => JSON.parse((await invoke('hello')).body).v === 'three',
      120_000,
    );
    await publish('hello', '2');
    await kubectl(
      ['apply', '-f', '-'],
      aliasManifest(NS, 'hello-live', {
        name: 'live',
        functionName: 'hello',
        functionVersion: '1',
        routingConfig: { additionalVersionWeights: { '2': 0.5 } },
      }),
    );
    // Both versions answer through the alias: each in a pod of its own version.
    const seen = new Set<string>();
    await rig.until(
      'both versions through the alias',
      async () => {
        const r = await invoke('hello:live');
        if (r.status === 200) seen.add(JSON.parse(r.body).v);
        return seen.has('two') && seen.has('three');
      },
      180_000,
    );
    const versions = await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=hello']);
    const labels = new Set(versions.items.map((p: any) => p.metadata.labels['serval.dev/version']));
    expect(labels.has('1') && labels.has('2')).toBe(true);

    await kubectl(['delete', 'function', 'hello', '-n', NS, '--wait=true', '--timeout=120s']);
    await rig.until(
      'hello pods gone from the node',
      async () =>
        (await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=hello'])).items.length === 0,
      120_000,
    );
    expect((await invoke('hello')).status).toBe(404);
  }, 900_000);

  it('runs a function created through the Lambda API from a zip in a real pod (ADR-39)', async () => {
    const zip = makeZip({
      'index.mjs': "import { who } from './lib/who.mjs';\nexport const handler = async () => who();",
      'lib/who.mjs': "export const who = () => 'api zip in ' + process.env.LAMBDA_TASK_ROOT;",
    });
    const res = await fetch(`${rig.gateway.url}/2015-03-31/functions`, {
      method: 'POST',
      body: JSON.stringify({
        FunctionName: 'from-api',
        Runtime: 'nodejs24.x',
        Role: 'arn:aws:iam::123456789012:role/lambda',
        Handler: 'index.handler',
        Code: { ZipFile: zip.toString('base64') },
      }),
    });
    expect(res.status).toBe(201);
    const fn = await json(['get', 'function', 'from-api', '-n', 'default']);
    expect(fn.spec.code.configMap.name).toMatch(/^from-api-zip-[0-9a-f]{12}$/);
    const out = await rig.until(
      'the API function to answer from a pod',
      async () => {
        const r = await rig.invoke('default', 'from-api');
        return r.status === 200 ? r : undefined;
      },
      300_000,
    );
    expect(JSON.parse(out.body)).toBe('api zip in /var/task');
    const deleted = await fetch(`${rig.gateway.url}/2015-03-31/functions/from-api`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
  }, 600_000);

  it('runs the pod as asked: non-root, read-only root, no capabilities, seccomp, its memory limit', async () => {
    const probe = [
      "import { readdirSync, readFileSync, writeFileSync } from 'node:fs';",
      'export const handler = async () => {',
      "  const procs = Object.fromEntries(readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map((p) => [p, readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0').filter(Boolean).join(' ')]));",
      "  const status = readFileSync('/proc/self/status', 'utf8');",
      "  const field = (k) => status.split('\\n').find((l) => l.startsWith(k + ':')).slice(k.length + 1).trim();",
      "  let rootWritable = true; try { writeFileSync('/opt/serval/x', 'x'); } catch (e) { rootWritable = e.code; }",
      "  writeFileSync('/tmp/x', 'x');",
      "  const limit = readFileSync('/sys/fs/cgroup/memory/memory.limit_in_bytes', 'utf8').trim();",
      "  return { uid: field('Uid'), capEff: field('CapEff'), seccomp: field('Seccomp'), noNewPrivs: field('NoNewPrivs'), rootWritable, limit, procs, self: String(process.pid) };",
      '};',
    ].join('\n');
    await kubectl(['apply', '-f', '-'], functionManifest(NS, 'probe', probe, { memoryMB: 256 }));
    await ready('probe');
    const r = await rig.until(
      'probe answers',
      async () => {
        const res = await invoke('probe');
        return res.status === 200 ? res : undefined;
      },
      120_000,
    );
    expect(r.error, await diagnose('probe')).toBeNull();
    const seen = JSON.parse(r.body);
    expect(seen.uid.split(/\s+/)).toEqual(['10001', '10001', '10001', '10001']);
    expect(seen.capEff).toBe('0000000000000000');
    expect(seen.seccomp).toBe('2'); // filter mode: the runtime's default profile
    expect(seen.noNewPrivs).toBe('1');
    expect(seen.rootWritable).toBe('EROFS');
    expect(Number(seen.limit)).toBe(256 * 1024 * 1024);
    // A Node function's pod is one environment process (ADR-58): the shell supervisor as PID 1, and the
    // handler's own Node, which is the agent's link too. No agent, no runtime beside it.
    expect(seen.procs['1']).toMatch(
      /^\/bin\/sh runtime-shims\/node\/in-process\/supervise\.sh .*post-mortem\.js node /,
    );
    expect(seen.procs[seen.self]).toBe('node --max-old-space-size=230 runtime-shims/node/in-process/main.js');
    expect(Object.keys(seen.procs).sort()).toEqual(['1', seen.self].sort());
  }, 300_000);

  it("a 128 MB function inits on the boosted CPU and handles on its share; outgrowing its memory gets Lambda's error, then a new pod", async () => {
    // The container's CFS quota (cgroup v1 on the rig's node), once at init and again in the handler.
    const hog = [
      "import { readFileSync } from 'node:fs';",
      "const quota = () => Number(readFileSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us', 'utf8')) / Number(readFileSync('/sys/fs/cgroup/cpu/cpu.cfs_period_us', 'utf8')) * 1000;",
      'const atInit = quota();',
      'const held = [];',
      'export const handler = async (e) => {',
      '  if (e.small) return { atInit, inHandler: quota() };',
      '  for (;;) held.push(Buffer.alloc(8 << 20, 1));',
      '};',
    ].join('\n');
    await kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'hog', hog, { memoryMB: 128, timeoutSeconds: 30 }),
    );
    await ready('hog');
    const first = await rig.until(
      'hog answers',
      async () => {
        const r = await invoke('hog', { small: true });
        return r.status === 200 ? r : undefined;
      },
      120_000,
    );
    expect(first.error, await diagnose('hog')).toBeNull();
    // Init ran on the boost (1 vCPU), the handler on 128/1769 of a vCPU: the pod was resized in between.
    expect(JSON.parse(first.body)).toEqual({ atInit: 1000, inHandler: 72 });
    const [pod] = (await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=hog'])).items;
    expect(pod.metadata.annotations['serval.dev/cpu-after-init']).toBe('72m');
    expect(pod.spec.containers[0].resources).toMatchObject({
      requests: { cpu: '71m' },
      limits: { cpu: '72m' },
    });
    // The kubelet reports what it applied a moment after it applied it.
    await rig.until(
      "the resize in hog's container status",
      async () =>
        (await json(['get', 'pod', pod.metadata.name, '-n', NS])).status.containerStatuses[0].resources.limits
          .cpu === '72m',
    );
    expect(pod.status.qosClass).toBe('Burstable');

    const r = await invoke('hog');
    expect(r.status, await diagnose('hog')).toBe(200);
    expect(r.error).toBe('Unhandled');
    expect(JSON.parse(r.body).errorType).toBe('Runtime.OutOfMemory');
    await rig.until(
      'hog answers again',
      async () => (await invoke('hog', { small: true })).status === 200,
      120_000,
    );
  }, 300_000);

  it('runs a container-image function built from its own Dockerfile: its ENTRYPOINT and CMD, then ImageConfig', async () => {
    const tag = 'localhost/serval-test-image-fn:1';
    const archive = buildFunctionImage(join(import.meta.dirname, 'node/image-function'), tag);
    await rig.node.ctr(['images', 'import', archive]);
    const manifest = (spec: Record<string, unknown>) =>
      stringify({
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'Function',
        metadata: { name: 'imaged', namespace: NS },
        spec: { code: { image: { uri: tag } }, environment: { GREETING: 'hi' }, memoryMB: 256, ...spec },
      });
    await kubectl(['apply', '-f', '-'], manifest({}));
    await ready('imaged');
    const cold = await rig.until(
      'imaged answers',
      async () => {
        const r = await invoke('imaged', { n: 1 });
        return r.status === 404 ? undefined : r;
      },
      180_000,
    );
    expect(cold, await diagnose('imaged')).toMatchObject({ status: 200, error: null });
    const first = JSON.parse(cold.body);
    // The image's own ENTRYPOINT and CMD ran, in its WORKDIR, as the pod's user, with Lambda's variables.
    expect(first).toMatchObject({
      handler: 'app.handler',
      event: { n: 1 },
      calls: 1,
      cwd: '/var/task',
      uid: 10001,
      argv: ['app.handler'],
      env: {
        AWS_LAMBDA_FUNCTION_NAME: 'imaged',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        LAMBDA_TASK_ROOT: '/var/task',
        GREETING: 'hi',
      },
    });
    const warm = JSON.parse((await invoke('imaged', { n: 2 })).body);
    expect(warm).toMatchObject({ event: { n: 2 }, calls: 2, pid: first.pid });

    // The kubelet reports the phase on its own schedule: the pod may serve calls before it says Running.
    const pod = await rig.until('the imaged pod Running', async () => {
      const pods = await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=imaged']);
      return pods.items.find(
        (p: any) => p.status.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true,
      );
    });
    expect(pod.status.containerStatuses[0]).toMatchObject({ name: 'function', image: tag, ready: true });
    expect(pod.status.initContainerStatuses[0]).toMatchObject({ name: 'agent', image: RUNTIME_IMAGE });
    expect(pod.spec.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true });

    // ImageConfig overrides CMD and WORKDIR (a new configuration, so new environments).
    await kubectl(
      ['apply', '-f', '-'],
      manifest({ imageConfig: { command: ['app.shout'], workingDirectory: '/tmp' } }),
    );
    const shouted = await rig.until(
      'the new CMD answers',
      async () => {
        const r = await invoke('imaged', { n: 3 });
        return r.status === 200 && JSON.parse(r.body).handler === 'app.shout'
          ? JSON.parse(r.body)
          : undefined;
      },
      180_000,
    );
    expect(shouted).toMatchObject({ cwd: '/tmp', argv: ['app.shout'], env: { _HANDLER: 'app.shout' } });
    // A handler's error comes back in Lambda's shape, from the image's own client.
    const failed = await invoke('imaged', { fail: true });
    expect(failed).toMatchObject({ status: 200, error: 'Unhandled' });
    expect(JSON.parse(failed.body)).toEqual({ errorType: 'TypeError', errorMessage: 'asked to fail' });
    // A runtime that exits ends its environment (the agent cannot start an image's ENTRYPOINT again): the
    // call gets Runtime.ExitError, and the next one a new pod.
    const exited = await invoke('imaged', { exit: true });
    expect(exited, await diagnose('imaged')).toMatchObject({ status: 200, error: 'Unhandled' });
    expect(JSON.parse(exited.body).errorType).toBe('Runtime.ExitError');
    const after = await rig.until(
      'a new environment answers',
      async () => {
        const r = await invoke('imaged', { n: 5 });
        return r.status === 200 && r.error === null ? JSON.parse(r.body) : undefined;
      },
      180_000,
    );
    expect(after).toMatchObject({ handler: 'app.shout', calls: 1 });

    await kubectl(['delete', 'function', 'imaged', '-n', NS, '--wait=true', '--timeout=120s']);
  }, 600_000);

  // Last: the host controller gives up its Lease to the chart's.
  it("runs the chart's gateway and controller as pods from the serval image, and they run a Function", async () => {
    await rig.controller.stop();
    const chart = await deployChartPods(rig);
    try {
      for (const name of [chart.pods.gateway, chart.pods.controller]) {
        const pod = await json(['get', 'pod', name, '-n', 'serval-system']);
        expect(pod.status.containerStatuses[0]).toMatchObject({ image: SERVAL_IMAGE, ready: true });
        expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true });
        expect(pod.spec.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true });
      }
      await kubectl(
        ['apply', '-f', '-'],
        functionManifest(CHARTED, 'charted', 'export const handler = async (e) => ({ in: "a pod", e })'),
      );
      const invokeCharted = () =>
        fetch(`${chart.gatewayUrl}/2015-03-31/functions/${CHARTED}:function:charted/invocations`, {
          method: 'POST',
          body: JSON.stringify({ n: 1 }),
        });
      const r = await rig.until(
        'the chart gateway answers',
        async () => {
          const res = await invokeCharted();
          return res.status === 200 ? res : undefined;
        },
        180_000,
      );
      expect(await r.json()).toEqual({ in: 'a pod', e: { n: 1 } });
      // The function pod is the chart controller's, dialling the gateway pod across the bridge.
      const fnPods = await json(['get', 'pods', '-n', CHARTED, '-l', 'serval.dev/function=charted']);
      const link = fnPods.items[0].spec.containers[0].env.find(
        (e: any) => e.name === 'SERVAL_LINK_URL',
      ).value;
      expect(new URL(link).hostname).toBe(new URL(chart.gatewayUrl).hostname);
      const fn = await json(['get', 'function', 'charted', '-n', CHARTED]);
      expect(fn.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    } finally {
      await chart.stop();
    }
  }, 600_000);
});
