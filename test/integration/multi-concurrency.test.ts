// Multi-concurrency environments (Lambda Managed Instances, ADR-42): with maxConcurrencyPerEnvironment N one
// environment runs up to N invocations at once in one runtime process, each with its own request id,
// context, trace id and log tail; admission still counts invocations, so a capped function throttles the
// call past its cap, and calls past the environments' slots wait for one.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, inlineNode, startServal, type TestServal } from '../support/serval.ts';
import { until } from '../support/until.ts';

// `barrier: n` waits until n invocations are inside this process at once (never, unless they run side by
// side); `hold: name` waits until the test creates the file `release-<name>` in the code directory
// (shared by the functions here, whose inline source is the same). Sandboxed environments all see
// themselves as pid 1, so each process also names itself.
const SOURCE = `import { existsSync } from 'node:fs';
const processId = crypto.randomUUID();
const released = (name) => existsSync(process.env.LAMBDA_TASK_ROOT + '/release-' + name);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let inside = 0;
let most = 0;
export const handler = async (event, context) => {
  if (event.crash) {
    setTimeout(() => { throw new Error('crash on purpose'); });
    return new Promise(() => {});
  }
  inside++;
  most = Math.max(most, inside);
  const releasedOnArrival = Boolean(event.hold) && released(event.hold);
  console.log('arrived', context.awsRequestId);
  while (event.barrier ? most < event.barrier : event.hold && !released(event.hold)) await sleep(5);
  // Interleave with the others before reading per-invocation state.
  for (let i = 0; i < 3; i++) {
    await sleep(1);
    console.log('step', i, context.awsRequestId);
  }
  const traceId = process.env._X_AMZN_TRACE_ID;
  inside--;
  return { processId, pid: process.pid, requestId: context.awsRequestId, traceId, most, releasedOnArrival };
};
`;

interface Reply {
  processId: string;
  pid: number;
  requestId: string;
  traceId: string | undefined;
  most: number;
  releasedOnArrival: boolean;
}

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      inlineNode('four', SOURCE, { timeoutSeconds: 60, spec: { maxConcurrencyPerEnvironment: 4 } }),
      inlineNode('crashy', SOURCE, { timeoutSeconds: 60, spec: { maxConcurrencyPerEnvironment: 2 } }),
      inlineNode('capped', SOURCE, {
        timeoutSeconds: 60,
        spec: { maxConcurrencyPerEnvironment: 2, reservedConcurrency: 2 },
      }),
    ],
    config: { environmentStartTimeoutSeconds: 120 },
  });
});
afterAll(() => serval?.stop());

function codeDir(s: TestServal, name: string): string {
  const fn = s.loaded.functions.find((f) => f.name === name);
  if (!fn) throw new Error(`no function ${name}`);
  return fn.codeDir;
}

function arrivals(s: TestServal, name: string): number {
  return s.logs(name).filter((l) => /\tINFO\tarrived /.test(l)).length;
}

describe('a multi-concurrency environment', () => {
  it('runs N calls at once in one process, each with its own request id, trace id and log', async () => {
    const roots = Array.from({ length: 4 }, (_, i) => `1-67a0b1c2-${String(i).repeat(24)}`);
    const calls = await Promise.all(
      roots.map((root) =>
        serval.invoke(
          'four',
          { barrier: 4 },
          { 'X-Amzn-Trace-Id': `Root=${root};Parent=53995c3f42cd8ad8;Sampled=0` },
        ),
      ),
    );
    for (const c of calls) expect(c.status, c.text).toBe(200);
    const replies = calls.map((c) => c.json() as Reply);
    // The barrier let them through only because all four were inside one process at once.
    expect(new Set(replies.map((r) => r.processId)).size).toBe(1);
    expect(new Set(replies.map((r) => r.pid)).size).toBe(1);
    expect(Math.min(...replies.map((r) => r.most))).toBe(4);
    const ids = calls.map((c) => c.headers.get('x-amzn-requestid')!);
    expect(new Set(ids).size).toBe(4);
    calls.forEach((c, i) => {
      const { requestId, traceId } = replies[i]!;
      expect(requestId).toBe(ids[i]);
      // Read after the others had started: a process-wide variable would hold the last one's.
      expect(traceId).toContain(`Root=${roots[i]}`);
      // The log tail is this invocation's: its records and platform lines, and no other's.
      expect(c.logTail).toContain(`START RequestId: ${requestId}`);
      expect(c.logTail).toContain(`REPORT RequestId: ${requestId}`);
      expect(c.logTail).toContain(`\tINFO\tstep 2 ${requestId}`);
      for (const other of ids.filter((id) => id !== requestId)) expect(c.logTail).not.toContain(other);
    });
    // Every application record in the stream names the invocation that wrote it.
    for (const line of serval.logs('four').filter((l) => /\tINFO\tstep /.test(l))) {
      const [, recordId, , message] = line.split('\t');
      expect(message).toMatch(new RegExp(`^step \\d ${recordId}$`));
    }
  }, 120_000);

  it('throttles the call past a capped function’s reserved concurrency while N run', async () => {
    const release = join(codeDir(serval, 'capped'), 'release-capped');
    rmSync(release, { force: true });
    const held = [serval.invoke('capped', { hold: 'capped' }), serval.invoke('capped', { hold: 'capped' })];
    try {
      await until(() => arrivals(serval, 'capped') === 2, 'both held calls to run');
      // Both units are held by invocations on one environment: the third is throttled, not queued.
      const third = await serval.invoke('capped', { hold: 'capped' });
      expect(third.status).toBe(429);
      expect(third.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
      expect(third.json()).toMatchObject({ Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
    } finally {
      writeFileSync(release, '');
    }
    const replies = (await Promise.all(held)).map((c) => {
      expect(c.status, c.text).toBe(200);
      return c.json() as Reply;
    });
    expect(replies[0]!.processId).toBe(replies[1]!.processId);
    // The units came back: the next call runs.
    expect((await serval.invoke('capped', { hold: 'capped' })).status).toBe(200);
  }, 120_000);
});

describe('a crash in a multi-concurrency environment', () => {
  it('fails every invocation the process ran with Runtime.ExitError; the next call gets a fresh runtime', async () => {
    const release = join(codeDir(serval, 'crashy'), 'release-crashy');
    rmSync(release, { force: true });
    const held = serval.invoke('crashy', { hold: 'crashy' });
    await until(() => arrivals(serval, 'crashy') === 1, 'the held call to run');
    const crashed = await serval.invoke('crashy', { crash: true });
    for (const res of [crashed, await held]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-function-error'), res.text).toBe('Unhandled');
      expect(res.json()).toMatchObject({ errorType: 'Runtime.ExitError' });
    }
    writeFileSync(release, '');
    const after = await serval.invoke('crashy', { hold: 'crashy' });
    expect(after.status, after.text).toBe(200);
    expect(after.headers.get('x-amz-function-error')).toBeNull();
  }, 120_000);
});

describe('calls past every environment’s slots', () => {
  let local: TestServal;
  beforeAll(async () => {
    local = await startServal({
      functions: [
        inlineNode('queued', SOURCE, { timeoutSeconds: 60, spec: { maxConcurrencyPerEnvironment: 2 } }),
      ],
      config: { maxEnvironmentsPerFunction: 1, environmentStartTimeoutSeconds: 120 },
    });
  });
  afterAll(() => local?.stop());

  it('wait for a slot on the environment (they are admitted, not throttled)', async () => {
    const release = join(codeDir(local, 'queued'), 'release-queued');
    rmSync(release, { force: true });
    const held = [local.invoke('queued', { hold: 'queued' }), local.invoke('queued', { hold: 'queued' })];
    await until(() => arrivals(local, 'queued') === 2, 'both held calls to run');
    const third = local.invoke('queued', { hold: 'queued' });
    await until(async () => {
      const text = await (await fetch(local.metricsUrl!)).text();
      return /serval_invocations_waiting_for_environment\{[^}]*function="queued"[^}]*\} 1\b/.test(text);
    }, 'the third call to wait for a slot');
    expect(arrivals(local, 'queued')).toBe(2);
    writeFileSync(release, '');
    const replies = (await Promise.all([...held, third])).map((c) => {
      expect(c.status, c.text).toBe(200);
      return c.json() as Reply;
    });
    expect(new Set(replies.map((r) => r.processId)).size).toBe(1);
    expect(replies[2]!.releasedOnArrival).toBe(true);
  }, 120_000);
});

// The official PyPI client's multi-concurrent mode (one forked worker process per slot), unmodified.
const ric = join(
  process.env.SERVAL_CACHE ?? join(homedir(), '.cache/serval'),
  'official-clients',
  'python-ric',
);
const pythonPrepared = existsSync(ric);
if (!pythonPrepared && process.env.CI)
  throw new Error(`official clients missing under ${ric}: run test/official-clients/prepare.sh`);

describe.skipIf(!pythonPrepared)('awslambdaric (PyPI) in multi-concurrent mode', () => {
  let py: TestServal;
  beforeAll(async () => {
    py = await startServal({
      functions: [
        {
          name: 'python-multi',
          runtime: 'provided',
          handler: 'app.barrier',
          codePath: fixture('official', 'python-ric'),
          timeoutSeconds: 60,
          spec: { maxConcurrencyPerEnvironment: 3 },
        },
      ],
      config: { environmentStartTimeoutSeconds: 120 },
    });
  });
  afterAll(() => py?.stop());

  it('serves N calls at once from its N workers, each answer matched to its request id', async () => {
    const barrier = crypto.randomUUID();
    const calls = await Promise.all(
      Array.from({ length: 3 }, () => py.invoke('python-multi', { barrier, together: 3 })),
    );
    for (const c of calls) expect(c.status, c.text).toBe(200);
    const replies = calls.map((c) => c.json() as { requestId: string; pid: number; maxConcurrency: string });
    replies.forEach((r, i) => {
      expect(r.requestId).toBe(calls[i]!.headers.get('x-amzn-requestid'));
      expect(r.maxConcurrency).toBe('3');
    });
    // One process per concurrent invocation: that is the Python client's model.
    expect(new Set(replies.map((r) => r.pid)).size).toBe(3);
  }, 120_000);
});
