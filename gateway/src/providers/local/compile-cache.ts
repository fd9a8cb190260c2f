// V8's compile cache of Serval's own code (the agent, the Node runtime, in-process mode), built once per
// Serval tree and Node version, outside any function, and shown read-only to every sandboxed environment
// (ADR-55). A function's first environment then loads Serval's modules (the JavaScript built by shim-build.ts,
// ADR-56) from the cache instead of compiling them, before the function's code is even read. No function's code is ever in it: it is written only by
// processes that load Serval's entry points and exit (without a configuration, at once), and no environment
// can write to it, so nothing one function compiles reaches another.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { markInUse, pruneUnused } from './cache-trees.ts';

/** Where Serval's shims are loaded from: the built JavaScript (ADR-56) or, failing that, the sources. */
export interface ShimTree {
  /** Its runtime-shims directory. */
  runtimeShimsDir: string;
  /** Every directory whose files an environment may load from it (runtime-shims, apis). */
  dirs: string[];
}

/** What an environment loads at start: each exits once its modules are loaded, for want of a configuration. */
function entryPoints(runtimeShimsDir: string): string[] {
  return ['agent/main', 'node/bootstrap', 'node/in-process/main'].map((p) => {
    const js = join(runtimeShimsDir, `${p}.js`);
    return existsSync(js) ? js : join(runtimeShimsDir, `${p}.ts`);
  });
}

/** The command (and its NODE_COMPILE_CACHE) that fills a cache directory: in a sandbox, or not. */
export type CacheBuild = (
  cacheDir: string,
  script: string[],
) => { file: string; args: string[]; cacheEnv: string; cleanup: () => void };

let built: string | undefined;
let building: ChildProcess | undefined;

/** The finished cache directory, if there is one yet. */
export function servalCompileCache(): string | undefined {
  return built;
}

/**
 * Starts building the cache under `cacheRoot` in the background, unless one for this tree and Node version is
 * there already. Environments started before it is done compile Serval's code themselves, as before.
 */
export function buildServalCompileCache(cacheRoot: string, shims: ShimTree, command: CacheBuild): void {
  if (built || building) return;
  const dir = join(cacheRoot, 'serval-compile-cache', treeKey(shims.dirs));
  pruneUnused(join(cacheRoot, 'serval-compile-cache'), dir);
  if (existsSync(dir)) {
    built = dir;
    markInUse(dir);
    return;
  }
  mkdirSync(join(cacheRoot, 'serval-compile-cache'), { recursive: true });
  const work = mkdtempSync(join(cacheRoot, 'serval-compile-cache', 'building-'));
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const script = entryPoints(shims.runtimeShimsDir)
    .map((entry) => `${quote(process.execPath)} ${quote(entry)}`)
    .join('; ');
  const { file, args, cacheEnv, cleanup } = command(work, ['sh', '-c', `${script} 2>/dev/null; true`]);
  const child = spawn(file, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_COMPILE_CACHE: cacheEnv },
    stdio: 'ignore',
  });
  building = child;
  child.unref(); // a gateway that stops meanwhile does not wait for it; --die-with-parent ends it
  child.once('error', () => rmSync(work, { recursive: true, force: true }));
  child.once('exit', (code) => {
    building = undefined;
    cleanup();
    try {
      if (code !== 0 || readdirSync(work).length === 0) throw new Error('nothing built');
      renameSync(work, dir); // whole or not at all; another gateway may have won the race, which is as good
      built = dir;
      markInUse(dir);
    } catch {
      rmSync(work, { recursive: true, force: true });
      if (existsSync(dir)) {
        built = dir;
        markInUse(dir);
      }
    }
  });
}

/** Node's version and every Serval file an environment may load (path, size, mtime). */
function treeKey(dirs: string[]): string {
  const hash = createHash('sha256').update(process.version);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (
        (/\.[jt]s$/.test(entry.name) && !/\.test\.[jt]s$/.test(entry.name)) ||
        entry.name === 'package.json'
      ) {
        const st = statSync(path);
        hash.update(`${path}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  for (const dir of dirs) walk(dir);
  return hash.digest('hex').slice(0, 16);
}
