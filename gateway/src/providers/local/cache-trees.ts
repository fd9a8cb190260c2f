// Generations of a tree the local provider keeps in its cache (the built shims, ADR-56; Serval's compile
// cache, ADR-55), each a directory named by a hash of what it was built from. Every edit of a shim or
// upgrade of Node makes a new one and nothing removed the old ones, so the cache only grew. A gateway now
// marks the generation it uses (the directory's mtime) when it starts and once a day while it runs, and
// removes siblings nobody marked for two weeks: a generation another running gateway still uses is marked
// by it, and one of a checkout started again later is built again (about 0.3 s).
import { readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

/** A generation unmarked this long belongs to no running gateway. */
export const UNUSED_FOR_MS = 14 * 24 * 3600 * 1000;
/** A build directory (`*.building-*`, `building-*`) this old was left by a build that died. */
const ABANDONED_BUILD_MS = 3600 * 1000;
const MARK_EVERY_MS = 24 * 3600 * 1000;

const marking = new Set<string>();

/** Marks `tree` as in use now and, while this process runs, daily (an unref'd timer: it holds nothing up). */
export function markInUse(tree: string): void {
  mark(tree);
  if (marking.has(tree)) return;
  marking.add(tree);
  setInterval(() => mark(tree), MARK_EVERY_MS).unref();
}

function mark(tree: string): void {
  const now = new Date();
  try {
    utimesSync(tree, now, now);
  } catch {
    // gone or not ours: the next build makes it again
  }
}

/**
 * Removes the entries of `parent` other than `keep` last marked more than UNUSED_FOR_MS ago, and build
 * directories abandoned for an hour. Returns what it removed. Errors are ignored: another gateway may be
 * removing the same entry, and a cache that cannot be pruned still works.
 */
export function pruneUnused(parent: string, keep: string, now = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const path = join(parent, name);
    if (path === keep) continue;
    try {
      const age = now - statSync(path).mtimeMs;
      const building = /(^|\.)building-/.test(name);
      if (age <= (building ? ABANDONED_BUILD_MS : UNUSED_FOR_MS)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // raced with another gateway, or not ours to remove
    }
  }
  return removed;
}
