// An in-process pod's first process (pod.sh, ADR-58), run as the runtime image runs it: from the shims built
// as JavaScript, dialling a gateway stand-in over TCP with the environment's credential. The container's
// memory cgroup is a directory of the same files (memory.events, memory.peak), so the test can say what the
// kernel would have counted; the real OOM kill is the real-node test's (test/kubernetes/real-node.test.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type AgentMessage,
  decodeFrame,
  type EnvironmentSpec,
  encodeFrame,
  type InvocationResult,
} from '../../../apis/environment-link.ts';
import { buildShims } from '../../../gateway/src/providers/local/shim-build.ts';

const REPO_ROOT = dirname(dirname(dirname(dirname(fileURLToPath(import.meta.url)))));
const built = buildShims(REPO_ROOT, process.env.SERVAL_CACHE ?? join(homedir(), '.cache', 'serval'));

const HANDLER = `
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
export const handler = async (event) => {
  if (event.oom) {
    // What the kernel does when the container goes over its limit: counts the kill, then kills.
    writeFileSync(event.oom, 'low 0\\nhigh 0\\nmax 3\\noom 1\\noom_kill 1\\n');
    process.kill(process.pid, 'SIGKILL');
  }
  if (event.kill) process.kill(process.pid, 'SIGKILL');
  // What a child of the handler holds beyond its stdio, as ls -l names each descriptor's target.
  const listing = execFileSync('/bin/sh', ['-c', 'ls -l /proc/self/fd'], { encoding: 'utf8' });
  const fds = [...listing.matchAll(/ (\\d+) -> (.*)$/gm)].filter((m) => Number(m[1]) > 2).map((m) => m[2]);
  return { echo: event.echo, token: process.env.SERVAL_ENVIRONMENT_TOKEN ?? null, cwd: process.cwd(), fds };
};
`;

let work: string | undefined;
let server: WebSocketServer | undefined;
let pod: ChildProcess | undefined;
afterEach(async () => {
  if (pod?.pid) {
    try {
      process.kill(-pod.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const client of server?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  pod = undefined;
  if (work) rmSync(work, { recursive: true, force: true });
  work = undefined;
});

/** A pod's directories; its cgroup as v2 names the files (memory.events, memory.peak), or v1's memory controller. */
function setUp(cgroup: 'v2' | 'v1' | 'none' = 'v2') {
  work = mkdtempSync(join(tmpdir(), 'serval-pod-'));
  const code = join(work, 'task');
  const tmp = join(work, 'tmp');
  const memory = join(work, 'cgroup');
  for (const dir of [code, tmp, memory]) mkdirSync(dir);
  writeFileSync(join(code, 'index.mjs'), HANDLER);
  const [eventsFile, peakFile] =
    cgroup === 'v1' ? ['memory.oom_control', 'memory.max_usage_in_bytes'] : ['memory.events', 'memory.peak'];
  const events = join(memory, eventsFile);
  writeFileSync(events, 'oom 0\noom_kill 0\n');
  writeFileSync(join(memory, peakFile), `${300 * 1024 * 1024}\n`);
  // As the controller lists them: v2's file, then v1's; the first that exists (with its peak) is taken.
  const cgroupList =
    cgroup === 'none'
      ? ''
      : `/nonexistent/memory.events:${cgroup === 'v1' ? events : `${events}:/nonexistent/memory.oom_control`}`;
  return { code, tmp, events, cgroupList };
}

/** A gateway stand-in: accepts one link, checks its credential, and lets the test converse with it. */
async function gateway(): Promise<{ url: string; link: Promise<{ ws: WebSocket; auth: string }> }> {
  const { promise: link, resolve } = Promise.withResolvers<{ ws: WebSocket; auth: string }>();
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws, req) => resolve({ ws, auth: req.headers.authorization ?? '' }));
  await new Promise<void>((r) => server!.once('listening', () => r()));
  const { port } = server.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}`, link };
}

function startPod(linkUrl: string, dirs: ReturnType<typeof setUp>) {
  const child = spawn(
    '/bin/bash',
    [
      'runtime-shims/node/in-process/pod.sh',
      'node',
      '--max-old-space-size=115',
      'runtime-shims/node/in-process/main.js',
    ],
    {
      cwd: built.root,
      env: {
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
        SERVAL_LINK_URL: `${linkUrl}/agent/v1/environments/e1/link`,
        SERVAL_ENVIRONMENT_TOKEN: 'pod-secret',
        SERVAL_CODE_DIR: dirs.code,
        SERVAL_TMP_DIR: dirs.tmp,
        SERVAL_RUNTIME_API_ADDRESS: '127.0.0.1:0',
        SERVAL_CONTAINER_MEMORY_EVENTS: dirs.cgroupList,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own group, so the test can end supervisor and Node together, as a container's end does.
      detached: true,
    },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  // 'close': its output is all read by then ('exit' can come first).
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  pod = child;
  return { exited, output: () => output };
}

const spec = (code: string): EnvironmentSpec => ({
  environmentId: 'e1',
  namespace: 'default',
  functionName: 'probe',
  version: '$LATEST',
  runtime: 'nodejs22.x',
  handler: 'index.handler',
  codeDir: code,
  memoryMB: 128,
  timeoutSeconds: 10,
  region: 'local',
  logFormat: 'Text',
  initializationType: 'on-demand',
  environment: {},
});

/** The agent's messages on the link, in order, and the close code that ended it. */
function conversation(ws: WebSocket) {
  const messages: { header: AgentMessage; body: Buffer }[] = [];
  ws.on('message', (data: Buffer) => messages.push(decodeFrame<AgentMessage>(data)));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  const result = async (requestId: string) => {
    await expect
      .poll(() => messages.find((m) => m.header.type === 'result'), { timeout: 20_000 })
      .toBeDefined();
    const m = messages.find((m) => m.header.type === 'result')!;
    const { result } = m.header as { type: 'result'; result: InvocationResult };
    expect(result.requestId).toBe(requestId);
    return { result, body: JSON.parse(m.body.toString('utf8')) };
  };
  const ready = () =>
    expect.poll(() => messages.some((m) => m.header.type === 'ready'), { timeout: 20_000 }).toBe(true);
  return { result, ready, closed };
}

const invoke = (ws: WebSocket, requestId: string, event: unknown) =>
  ws.send(
    encodeFrame(
      {
        type: 'invoke',
        invocation: { requestId, invokedFunctionArn: 'arn:aws:lambda:local:0:function:probe' },
      },
      Buffer.from(JSON.stringify(event)),
    ),
  );

describe('an in-process pod (pod.sh)', () => {
  it('dials the link with its credential, serves calls, and leaves the credential out of the function', async () => {
    const dirs = setUp();
    const gw = await gateway();
    const { exited } = startPod(gw.url, dirs);
    const { ws, auth } = await gw.link;
    expect(auth).toBe('Bearer pod-secret');
    const talk = conversation(ws);
    ws.send(encodeFrame({ type: 'configure', spec: spec('/not/the/pods') }));
    await talk.ready();
    invoke(ws, 'r-1', { echo: 'hi' });
    const { result, body } = await talk.result('r-1');
    expect(result.outcome).toBe('success');
    // SERVAL_CODE_DIR (the pod's mount) wins over the gateway's code directory.
    expect(body).toMatchObject({ echo: 'hi', token: null, cwd: dirs.code });
    // The container's peak (memory.peak beside memory.events) is Max Memory Used when it is the larger.
    expect(result.maxMemoryUsedMB).toBe(300);
    // A handler's child holds nothing of the environment's: no socket (the link is the supervisor's fd 3 and
    // Node's 9), no cgroup file (4-6), no ledger (7); ls's own directory is there, so the listing worked.
    expect(body.fds.some((target: string) => target.startsWith('/proc/'))).toBe(true);
    expect(body.fds.filter((t: string) => /socket:|memory\.|in-process-calls/.test(t))).toEqual([]);
    ws.send(encodeFrame({ type: 'shutdown', reason: 'idle' }));
    expect(await talk.closed).toBe(1000);
    expect(await exited).toBe(0);
  });

  it.each(['v2', 'v1'] as const)(
    'answers an OOM kill by the container’s cgroup (%s) with Runtime.OutOfMemory on the link it holds',
    async (cgroup) => {
      const dirs = setUp(cgroup);
      const gw = await gateway();
      const { exited, output } = startPod(gw.url, dirs);
      const { ws } = await gw.link;
      const talk = conversation(ws);
      ws.send(encodeFrame({ type: 'configure', spec: spec(dirs.code) }));
      await talk.ready();
      invoke(ws, 'r-oom', { oom: dirs.events });
      const { result, body } = await talk.result('r-oom');
      expect(result).toMatchObject({
        outcome: 'error',
        errorType: 'Runtime.OutOfMemory',
        maxMemoryUsedMB: 300,
      });
      expect(body.errorMessage).toContain('signal: killed');
      const tail = Buffer.from(result.logTail, 'base64').toString('utf8');
      expect(tail).toMatch(/^END RequestId: r-oom$/m);
      expect(tail).toMatch(/^REPORT RequestId: r-oom\t.*Max Memory Used: 300 MB/m);
      expect(await talk.closed).toBe(1000);
      expect(await exited).toBe(75); // a reset (call-ledger.ts)
      expect(output()).toContain('serval-environment: reset');
    },
  );

  it('without a memory cgroup a death by signal is Runtime.ExitError, still answered', async () => {
    const dirs = setUp('none');
    const gw = await gateway();
    startPod(gw.url, dirs);
    const { ws } = await gw.link;
    const talk = conversation(ws);
    ws.send(encodeFrame({ type: 'configure', spec: spec(dirs.code) }));
    await talk.ready();
    invoke(ws, 'r-kill', { kill: true });
    const { result, body } = await talk.result('r-kill');
    expect(result).toMatchObject({ outcome: 'error', errorType: 'Runtime.ExitError' });
    expect(body.errorMessage).toContain('Runtime exited with error: signal: killed');
  });

  it('fails at once, saying why, for a link it cannot dial', async () => {
    const dirs = setUp();
    const tls = startPod('wss://gateway.invalid:8081', dirs);
    expect(await tls.exited).toBe(1);
    expect(tls.output()).toContain('a pod dials its link as ws://');
    // A port nobody listens on: the connection is refused.
    const probe = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => probe.once('listening', () => r()));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((r) => probe.close(() => r()));
    const refused = startPod(`ws://127.0.0.1:${port}`, dirs);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain(`cannot reach the gateway's link at 127.0.0.1:${port}`);
  });
});
