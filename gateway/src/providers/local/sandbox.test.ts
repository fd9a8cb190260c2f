// The sandbox itself (bwrap, ADR-55), against the real kernel: what a view holds, and that two environments
// share neither /tmp nor processes. The gateway-level promises are in test/security/isolation-*.test.ts.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSandbox } from '../../../../test/security/isolation-support.ts';
import { testDataRoot } from '../../../../test/support/serval.ts';
import { SANDBOX_COMPILE_CACHE, sandboxCommand, sandboxUnavailable, sharedReadOnlyPaths } from './sandbox.ts';

/** What the probe inside reports: its uid, capabilities, pids, its /tmp, and what it could and could not do. */
const PROBE = `
const fs = require('node:fs');
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (k) => new RegExp('^' + k + ':\\\\s*(.*)$', 'm').exec(status)[1].trim();
const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'written'; } catch (e) { return e.code; } };
fs.writeFileSync('/tmp/mine', process.argv[1]);
const out = {
  pid: process.pid,
  uid: process.getuid(),
  capEff: field('CapEff'),
  noNewPrivs: field('NoNewPrivs'),
  pids: fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).map(Number),
  tmp: fs.readdirSync('/tmp').sort(),
  root: fs.readdirSync('/').sort(),
  etc: fs.readdirSync('/etc').sort(),
  code: fs.readdirSync(process.argv[2]),
  writeCode: tryWrite(process.argv[2] + '/x'),
  writeCache: tryWrite(process.argv[3] + '/x'),
  writeRoot: tryWrite('/x'),
  writeDev: tryWrite('/dev/x'),
  hidden: fs.existsSync(process.argv[4]),
};
setTimeout(() => { console.log(JSON.stringify(out)); }, Number(process.argv[5]));
`;

type Probe = {
  pid: number;
  uid: number;
  capEff: string;
  noNewPrivs: string;
  pids: number[];
  tmp: string[];
  root: string[];
  etc: string[];
  code: string[];
  writeCode: string;
  writeCache: string;
  writeRoot: string;
  writeDev: string;
  hidden: boolean;
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(testDataRoot(), 'sandbox-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function environment(name: string): { tmp: string; code: string; cache: string } {
  const env = { tmp: join(dir, name, 'tmp'), code: join(dir, name, 'code'), cache: join(dir, name, 'cache') };
  for (const d of Object.values(env)) mkdirSync(d, { recursive: true });
  writeFileSync(join(env.code, 'index.mjs'), 'export const handler = () => 1;\n');
  return env;
}

function run(name: string, env: ReturnType<typeof environment>, holdMs: number): Promise<Probe> {
  const { file, args } = sandboxCommand(
    {
      tmpDir: env.tmp,
      codeDir: env.code,
      compileCacheDir: env.cache,
      readOnly: sharedReadOnlyPaths(),
      shared: [],
    },
    [process.execPath, '-e', PROBE, name, env.code, SANDBOX_COMPILE_CACHE, env.tmp, String(holdMs)],
  );
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Probe) : reject(new Error(err))));
  });
}

describe('the local sandbox (bwrap)', () => {
  it('shows a view of only what it is given: code and cache read-only, its own /tmp, uid 993 without capabilities', async (ctx) => {
    requireSandbox(sandboxUnavailable() === undefined, ctx);
    const a = await run('a', environment('a'), 0);
    expect(a.uid).toBe(993);
    expect(a.capEff).toBe('0000000000000000');
    expect(a.noNewPrivs).toBe('1');
    expect(a.pid).toBe(1); // the command is the namespace's first process
    expect(a.tmp).toEqual(['mine']);
    expect(a.code).toEqual(['index.mjs']);
    expect([a.writeCode, a.writeCache, a.writeRoot, a.writeDev]).toEqual([
      'EROFS',
      'EROFS',
      'EROFS',
      'EROFS',
    ]);
    // Its /tmp's host directory is not there at its own path, and / holds only what the view was given.
    expect(a.hidden).toBe(false);
    const given = [...sharedReadOnlyPaths(), dir, SANDBOX_COMPILE_CACHE].map((p) => p.split('/')[1]);
    expect(a.root.filter((name) => ![...given, 'dev', 'etc', 'proc', 'tmp'].includes(name))).toEqual([]);
    expect(a.etc).not.toContain('shadow');
    expect(a.etc).toContain('passwd');
  });

  it('gives two environments of one function neither each other’s /tmp nor each other’s processes', async (ctx) => {
    requireSandbox(sandboxUnavailable() === undefined, ctx);
    // Both alive at once: each lists its /proc while the other runs.
    const [b, c] = await Promise.all([run('b', environment('b'), 300), run('c', environment('c'), 300)]);
    expect(b.tmp).toEqual(['mine']);
    expect(c.tmp).toEqual(['mine']);
    expect(b.pids).toEqual([1]);
    expect(c.pids).toEqual([1]);
  });
});
