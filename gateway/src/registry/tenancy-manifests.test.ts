// Tenant isolation at load: the features Lambda refuses beside it are refused by field, and a reload that
// changes a function's tenancy keeps the function as it was created.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FunctionRegistry } from './function-registry.ts';
import { formatProblem, loadManifestDirectory } from './manifest-loader.ts';
import { watchManifests } from './manifest-watch.ts';

const work = mkdtempSync(join(tmpdir(), 'serval-tenancy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fn = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'Function',
  metadata: { name },
  spec: {
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    code: { inline: { 'index.mjs': 'export const handler = async (e) => e;' } },
    ...spec,
  },
});
const mapping = (name: string, functionName: string) => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'EventSourceMapping',
  metadata: { name },
  spec: { functionName, source: { sqs: { queueUrl: 'http://127.0.0.1:9324/000000000000/q' } } },
});

function writeManifests(dir: string, docs: unknown[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'functions.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

const PER_TENANT = { tenancy: { mode: 'PER_TENANT' } };

describe('tenant isolation in manifests', () => {
  it('refuses a function URL or ALB rules beside PER_TENANT, naming the field', () => {
    const dir = join(work, 'refusals');
    writeManifests(dir, [
      fn('with-url', { ...PER_TENANT, url: { authType: 'NONE' } }),
      fn('with-alb', { ...PER_TENANT, alb: { rules: [{ pathPrefix: '/t', priority: 1 }] } }),
      fn('isolated', PER_TENANT),
      fn('shared'),
      mapping('feeds-isolated', 'isolated'),
      mapping('feeds-shared', 'shared'),
    ]);
    const loaded = loadManifestDirectory(dir, join(work, 'data'));
    expect(loaded.functions.map((f) => f.name).sort()).toEqual(['isolated', 'shared']);
    expect(loaded.functions.find((f) => f.name === 'isolated')!.spec).toMatchObject({
      tenancy: { mode: 'PER_TENANT' },
      recursiveLoop: 'Terminate',
    });
    expect(loaded.eventSourceMappings.map((m) => m.name)).toEqual(['feeds-shared']);
    const lines = loaded.problems.map(formatProblem);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /document 1\): spec\.url: InvalidParameterValueException: function URLs are not supported/,
        ),
        expect.stringMatching(/document 2\): spec\.alb: InvalidParameterValueException: load balancer/),
        expect.stringMatching(
          /document 5\): spec\.functionName: InvalidParameterValueException: event source mappings are not supported/,
        ),
      ]),
    );
    expect(lines).toHaveLength(3);
  });

  it('a reload that adds or drops tenancy is refused and the function stays as created', async () => {
    const dir = join(work, 'reload');
    const dataDir = join(work, 'reload-data');
    writeManifests(dir, [fn('isolated', PER_TENANT), fn('shared')]);
    const load = () => loadManifestDirectory(dir, dataDir);
    const initial = load().functions;
    const registry = new FunctionRegistry();
    for (const f of initial) registry.put(f);
    const problems: string[] = [];
    const reloaded: string[] = [];
    const watch = watchManifests({
      dir,
      load,
      dataDir,
      registry,
      initial,
      events: {
        loaded: () => {},
        reloaded: (f) => reloaded.push(f.name),
        removed: () => {},
        problem: (line) => problems.push(line),
      },
    });
    try {
      // Both flip tenancy; `shared` also changes memory, which alone would have been taken.
      writeManifests(dir, [
        fn('isolated', { memoryMB: 256 }),
        fn('shared', { ...PER_TENANT, memoryMB: 256 }),
      ]);
      // A slow disk may set off more than one reload; each refuses both.
      const refused = (name: string) =>
        problems.some(
          (l) => l.includes(`document ${name === 'isolated' ? 1 : 2})`) && l.includes('spec.tenancy'),
        );
      await expect.poll(() => refused('isolated') && refused('shared'), { timeout: 10_000 }).toBe(true);
      expect(problems[0]).toMatch(/spec\.tenancy: InvalidParameterValueException: tenancy cannot be changed/);
      expect(registry.get('default', 'isolated')!.spec).toMatchObject({ ...PER_TENANT, memoryMB: 128 });
      expect(registry.get('default', 'shared')!.spec.tenancy).toBeUndefined();
      expect(reloaded).toEqual([]);
      // Other edits still reload.
      writeManifests(dir, [fn('isolated', { ...PER_TENANT, memoryMB: 512 }), fn('shared')]);
      await expect.poll(() => reloaded, { timeout: 10_000 }).toEqual(['isolated']);
      expect(registry.get('default', 'isolated')!.spec.memoryMB).toBe(512);
    } finally {
      watch.close();
    }
  });
});
