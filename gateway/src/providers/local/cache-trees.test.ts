import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { markInUse, pruneUnused, UNUSED_FOR_MS } from './cache-trees.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'serval-cache-trees-'));
  dirs.push(d);
  return d;
}

/** A directory under `parent`, last marked `ageMs` ago. */
function tree(parent: string, name: string, ageMs: number): string {
  const path = join(parent, name);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'file.js'), 'export {};\n');
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
  return path;
}

const DAY = 24 * 3600 * 1000;

describe('pruneUnused', () => {
  it('removes generations unmarked for two weeks and abandoned builds, and keeps the rest', () => {
    const parent = scratch();
    const current = tree(parent, 'current', 30 * DAY);
    tree(parent, 'stale', UNUSED_FOR_MS + DAY);
    tree(parent, 'recent', 3 * DAY);
    tree(parent, 'abc.building-x1', 2 * 3600 * 1000);
    tree(parent, 'building-y2', 10 * 60 * 1000);
    expect(pruneUnused(parent, current).sort()).toEqual(['abc.building-x1', 'stale']);
    for (const name of ['current', 'recent', 'building-y2'])
      expect(existsSync(join(parent, name))).toBe(true);
  });

  it("removes a stale tree's link to node_modules, never what it points at", () => {
    const parent = scratch();
    const outside = scratch();
    writeFileSync(join(outside, 'keep.js'), '');
    const stale = tree(parent, 'stale', UNUSED_FOR_MS + DAY);
    symlinkSync(outside, join(stale, 'node_modules'));
    const at = new Date(Date.now() - UNUSED_FOR_MS - DAY);
    utimesSync(stale, at, at); // the link made it fresh again
    expect(pruneUnused(parent, join(parent, 'current'))).toEqual(['stale']);
    expect(existsSync(join(outside, 'keep.js'))).toBe(true);
  });

  it('leaves a tree that a gateway marked in use', () => {
    const parent = scratch();
    const used = tree(parent, 'used', UNUSED_FOR_MS + DAY);
    markInUse(used);
    expect(Date.now() - statSync(used).mtimeMs).toBeLessThan(60_000);
    expect(pruneUnused(parent, join(parent, 'other'))).toEqual([]);
  });

  it('is quiet about a cache directory that does not exist', () => {
    expect(pruneUnused(join(scratch(), 'missing'), 'x')).toEqual([]);
  });
});
