// /tmp across an in-process environment's reset (ADR-54). In Lambda a runtime that crashed, timed out or
// exited is restarted in the same execution environment, whose /tmp stays; an in-process environment resets
// by ending, and its replacement is a new process. So the /tmp of one that ended itself is kept for a
// while, and the next environment started for the same function (same spec, tenant and code) gets it.
// The environment says it is resetting on its stdout before its last words (RESET_LINE), so a replacement
// started before the old process is gone waits for it (`settled`) and then takes its /tmp.
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** How long a reset environment's /tmp waits for its replacement (the gateway starts one at the next call). */
const KEEP_MS = 10 * 60_000;

interface Kept {
  dir: string;
  timer: NodeJS.Timeout;
}

/** The environment's stdout line before it resets itself (RESET_LINE in runtime-shims/node/in-process/call-ledger.ts). */
export const RESET_LINE = 'serval-environment: reset';

export class KeptTmpDirs {
  private readonly root: string;
  private readonly kept = new Map<string, Kept[]>();
  /** Environments of a key that said they are resetting and have not ended yet. */
  private readonly endingByKey = new Map<string, Set<Promise<unknown>>>();
  private sequence = 0;

  /** `root`: a directory on the same file system as the environments' (a rename moves them). */
  constructor(root: string) {
    this.root = root;
  }

  /** Moves `tmpDir` aside for the next environment of `key`; false if it could not be. */
  keep(key: string, tmpDir: string): boolean {
    const dir = join(this.root, `kept-tmp-${++this.sequence}`);
    try {
      renameSync(tmpDir, dir);
    } catch {
      return false;
    }
    const entry: Kept = {
      dir,
      timer: setTimeout(() => this.drop(key, entry), KEEP_MS).unref(),
    };
    const list = this.kept.get(key) ?? [];
    list.push(entry);
    this.kept.set(key, list);
    return true;
  }

  /** An environment of `key` said it is resetting; `ended` settles once its /tmp is kept (or not). */
  ending(key: string, ended: Promise<unknown>): void {
    const set = this.endingOf(key);
    if (set.has(ended)) return;
    set.add(ended);
    void ended.finally(() => {
      set.delete(ended);
      if (set.size === 0) this.endingByKey.delete(key);
    });
  }

  has(key: string): boolean {
    return (this.kept.get(key)?.length ?? 0) > 0 || this.endingByKey.has(key);
  }

  /** Resolves once no environment of `key` is still ending, so its /tmp can be taken. */
  settled(key: string): Promise<void> {
    const set = this.endingByKey.get(key);
    return set ? Promise.allSettled([...set]).then(() => undefined) : Promise.resolve();
  }

  private endingOf(key: string): Set<Promise<unknown>> {
    let set = this.endingByKey.get(key);
    if (!set) {
      set = new Set();
      this.endingByKey.set(key, set);
    }
    return set;
  }

  /** Puts a kept /tmp of `key` at `tmpDir` (an empty directory, replaced); false if there is none. */
  take(key: string, tmpDir: string): boolean {
    const entry = this.kept.get(key)?.pop();
    if (!entry) return false;
    clearTimeout(entry.timer);
    if (this.kept.get(key)?.length === 0) this.kept.delete(key);
    try {
      rmSync(tmpDir, { recursive: true, force: true });
      renameSync(entry.dir, tmpDir);
      return true;
    } catch {
      rmSync(entry.dir, { recursive: true, force: true });
      return false;
    }
  }

  close(): void {
    for (const [key, list] of this.kept) for (const entry of [...list]) this.drop(key, entry);
  }

  private drop(key: string, entry: Kept): void {
    clearTimeout(entry.timer);
    const list = this.kept.get(key)?.filter((e) => e !== entry) ?? [];
    if (list.length > 0) this.kept.set(key, list);
    else this.kept.delete(key);
    rmSync(entry.dir, { recursive: true, force: true });
  }
}

/** Whose /tmp a kept one can be: the same function version, configuration, code and tenant. */
export function keptTmpKey(spec: { environmentId: string; initializationType?: string }): string {
  const { environmentId: _id, initializationType: _type, ...rest } = spec;
  return JSON.stringify(rest);
}
