// #11.7: a function read another function's /tmp through the data directory, other functions' queued
// event payloads in the SQLite WAL, their published code and logs. Each environment now sees a view of
// its own: the system, Serval's runtimes, its own code (read-only) and its own /tmp; of the data
// directory, only the path to its own code.
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, REPO_ROOT, startServal, type TestServal } from '../support/serval.ts';
import { requireSandbox } from './isolation-support.ts';

const KEEPER = `import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
export const handler = async () => {
  writeFileSync(tmpdir() + '/keeper-secret.txt', 'the keeper secret');
  return { tmpdir: tmpdir() };
};`;

/** Reports, for each path it is given, whether it exists in its view and what it can read there. */
const PROBER = `import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
const look = (path) => {
  if (!existsSync(path)) return { exists: false };
  try {
    return statSync(path).isDirectory()
      ? { exists: true, entries: readdirSync(path, { recursive: true }).map(String).sort() }
      : { exists: true, bytes: readFileSync(path).length };
  } catch (err) {
    return { exists: true, error: err.code };
  }
};
export const handler = async (event) => {
  let ownCodeWrite = 'written';
  try { writeFileSync(process.env.LAMBDA_TASK_ROOT + '/planted.js', 'x'); } catch (err) { ownCodeWrite = err.code; }
  return { seen: Object.fromEntries(event.paths.map((p) => [p, look(p)])), ownCodeWrite, tmp: readdirSync('/tmp') };
};`;

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      { name: 'keeper', runtime: 'nodejs22.x', handler: 'index.handler', inline: { 'index.mjs': KEEPER } },
      { name: 'prober', runtime: 'nodejs22.x', handler: 'index.handler', inline: { 'index.mjs': PROBER } },
      {
        name: 'neighbour',
        runtime: 'nodejs22.x',
        handler: 'index.handler',
        codePath: fixture('node', 'echo-esm'),
      },
    ],
  });
});
afterAll(() => serval?.stop());

function codeDir(name: string): string {
  const fn = serval.loaded.functions.find((f) => f.name === name);
  if (!fn) throw new Error(`no function ${name}`);
  return fn.codeDir;
}

describe('isolation: files', () => {
  it("a function sees neither the data directory (other functions' /tmp, queue, code, logs) nor other functions' code", async (ctx) => {
    requireSandbox(serval.isolatesTmp, ctx);
    expect((await serval.invoke('keeper')).json()).toEqual({ tmpdir: '/tmp' });
    // An accepted event puts its payload into the queue database (and its WAL) before it runs.
    const queued = await fetch(`${serval.url}/2015-03-31/functions/keeper/invocations`, {
      method: 'POST',
      headers: { 'X-Amz-Invocation-Type': 'Event' },
      body: JSON.stringify({ payload: 'queued-secret' }),
    });
    expect(queued.status).toBe(202);
    const dataDir = dirname(dirname(codeDir('keeper')));
    const paths = [
      join(dataDir, 'environments'),
      join(dataDir, 'async-events.db'),
      join(dataDir, 'async-events.db-wal'),
      join(dataDir, 'logs'),
      codeDir('keeper'),
      codeDir('neighbour'),
      join(REPO_ROOT, 'gateway'),
    ];
    expect(existsSync(join(dataDir, 'async-events.db'))).toBe(true);
    const res = await serval.invoke('prober', { paths: [dataDir, ...paths] });
    expect(res.status).toBe(200);
    const { seen, ownCodeWrite, tmp } = res.json() as {
      seen: Record<string, unknown>;
      ownCodeWrite: string;
      tmp: string[];
    };
    for (const path of paths) expect({ path, ...(seen[path] as object) }).toEqual({ path, exists: false });
    const own = relative(dataDir, codeDir('prober'));
    expect(seen[dataDir]).toEqual({ exists: true, entries: ['code', own, join(own, 'index.mjs')] });
    expect(tmp).not.toContain('keeper-secret.txt');
    // Its own code is there, and read-only, as /var/task is in Lambda.
    expect(ownCodeWrite).toBe('EROFS');
  });
});
