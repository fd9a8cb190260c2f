// Serval's own compile cache (ADR-55): built by really running the entry points, whole or not at all.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { testDataRoot } from '../../../../test/support/serval.ts';
import { buildServalCompileCache, servalCompileCache } from './compile-cache.ts';

const SHIMS = fileURLToPath(new URL('../../../../runtime-shims/', import.meta.url));
const APIS = fileURLToPath(new URL('../../../../apis/', import.meta.url));
const BOOTSTRAP = join(SHIMS, 'node/bootstrap.ts');
const root = mkdtempSync(join(testDataRoot(), 'compile-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('builds the cache of Serval’s entry points once, which a runtime then loads instead of compiling', async () => {
  expect(servalCompileCache()).toBeUndefined();
  // Unsandboxed here: the command runs the script as it is, with the cache where it is.
  buildServalCompileCache(root, { runtimeShimsDir: SHIMS, dirs: [SHIMS, APIS] }, (work, script) => ({
    file: script[0]!,
    args: script.slice(1),
    cacheEnv: work,
    cleanup: () => undefined,
  }));
  const deadline = Date.now() + 60_000;
  while (!servalCompileCache() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const dir = servalCompileCache()!;
  expect(dir.startsWith(join(root, 'serval-compile-cache'))).toBe(true);
  // Nothing half-built is left beside it.
  expect(readdirSync(join(root, 'serval-compile-cache'))).toHaveLength(1);

  // The runtime's modules come from it: Node says so for its entry point.
  const run = spawnSync(process.execPath, [BOOTSTRAP], {
    env: { NODE_COMPILE_CACHE: dir, NODE_DEBUG_NATIVE: 'COMPILE_CACHE', PATH: process.env.PATH },
    encoding: 'utf8',
  });
  expect(run.stderr).toMatch(/reading cache from .* for ESM file:.*bootstrap\.ts\.\.\.\[.*\]\.\.\. success/);
});
