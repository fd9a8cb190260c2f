// Serval's runtime shims (the agent, the Node and Python runtimes, and the apis/ they share) as plain
// JavaScript, built once per source hash into the cache. A process that loads a `.ts` file loads Node's
// TypeScript stripper (about 12 MB private) unless its compile cache already holds every module, and a
// sandboxed environment's cache is its function's own (ADR-56): so without this, every function's first
// environment paid for the stripper in the agent and again in the runtime.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { markInUse, pruneUnused } from './cache-trees.ts';

/** What the built tree holds, relative to the repository: the same layout, so relative imports hold. */
const SOURCE_DIRS = ['runtime-shims', 'apis'];
/** Tests and their helpers, and Python's byte-code, are not part of a runtime. */
const SKIP = /(\.test\.ts$|^test-support$|^tests$|^__pycache__$|^node_modules$|\.pyc$)/;
/** A relative specifier of a TypeScript module in a string literal: `'./x.ts'`, `"../../apis/y.ts"`. */
const TS_SPECIFIER = /(['"])(\.\.?\/[^'"\n]*?)\.ts\1/g;
/** Written last, before the rename: a tree without it is not one of ours, and is replaced. */
const COMPLETE = '.complete';

export interface BuiltShims {
  /** Where the built tree's `runtime-shims/` is: the agent's and runtimes' LAMBDA_RUNTIME_DIR. */
  runtimeShimsDir: string;
  /** The built tree's root, which a sandbox must show read-only. */
  root: string;
}

/**
 * The shims of `repoRoot` as JavaScript under `cacheDir/shims/<hash>`, built if this source has not been
 * built yet. Types are erased in place (Node's own `strip` mode: the same syntax Node runs from .ts, and
 * every line and column unchanged, so stack traces point at the source's lines), and relative `.ts`
 * specifiers become `.js`. Several gateways may start at once: each builds into a directory of its own and
 * the first rename wins.
 */
export function buildShims(repoRoot: string, cacheDir: string): BuiltShims {
  const files = shimSources(repoRoot);
  // The tree links this checkout's node_modules, so two checkouts of the same sources get a tree each.
  const hash = createHash('sha256').update(process.version).update('\0').update(repoRoot);
  for (const file of files)
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(repoRoot, file)))
      .update('\0');
  const root = join(cacheDir, 'shims', hash.digest('hex').slice(0, 16));
  const built = { root, runtimeShimsDir: join(root, 'runtime-shims') };
  if (!existsSync(join(root, COMPLETE))) build(repoRoot, root, files);
  markInUse(root);
  pruneUnused(dirname(root), root);
  return built;
}

/** Builds the tree into a directory of its own and renames it to `root`, whole, with its marker. */
function build(repoRoot: string, root: string, files: string[]): void {
  mkdirSync(dirname(root), { recursive: true });
  const work = mkdtempSync(`${root}.building-`);
  try {
    chmodSync(work, 0o755); // environments run as another user (uid 993 in a sandbox)
    writeShims(repoRoot, work, files);
    // ESM resolves packages (ws, yaml) by walking up from the importing file, so the tree links the repository's.
    symlinkSync(join(repoRoot, 'node_modules'), join(work, 'node_modules'));
    writeFileSync(join(work, COMPLETE), '');
    // A tree is renamed into place whole, with its marker: one without it was not made by a build.
    if (existsSync(root) && !existsSync(join(root, COMPLETE))) rmSync(root, { recursive: true, force: true });
    try {
      renameSync(work, root);
    } catch (error) {
      if (!existsSync(join(root, COMPLETE))) throw error; // else another gateway got there first
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Writes the shims of `repoRoot` as JavaScript into `outDir` (an empty directory), in the repository's layout,
 * with a package.json that makes them ES modules. The runtime image is built with it too (Dockerfile).
 */
export function writeShims(repoRoot: string, outDir: string, files = shimSources(repoRoot)): void {
  for (const file of files) {
    const ts = file.endsWith('.ts');
    const target = join(outDir, ts ? `${file.slice(0, -3)}.js` : file);
    mkdirSync(dirname(target), { recursive: true });
    if (ts) writeFileSync(target, toJavaScript(readFileSync(join(repoRoot, file), 'utf8'), file));
    else copyFileSync(join(repoRoot, file), target);
  }
  writeFileSync(join(outDir, 'package.json'), '{ "private": true, "type": "module" }\n');
}

/** A module's JavaScript: types erased where they stand, relative `.ts` specifiers pointed at `.js`. */
export function toJavaScript(source: string, file: string): string {
  let code: string;
  // Node warns once per process that the API is experimental; for a build step of its own that is noise.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    code = stripTypeScriptTypes(source, { mode: 'strip' });
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  } finally {
    process.emitWarning = emitWarning;
  }
  return code.replace(TS_SPECIFIER, '$1$2.js$1');
}

/** The files a runtime needs, relative to the repository, in a stable order. */
function shimSources(repoRoot: string): string[] {
  const found: string[] = [];
  const walk = (abs: string) => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      if (SKIP.test(entry.name)) continue;
      const path = join(abs, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) found.push(relative(repoRoot, path));
    }
  };
  for (const dir of SOURCE_DIRS) walk(join(repoRoot, dir));
  return found.sort();
}
