import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatProblem, loadManifestDirectory } from './manifest-loader.ts';

const dir = join(import.meta.dirname, '../../../test/fixtures/manifests/mixed');

describe('loadManifestDirectory', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'serval-manifests-'));
  const loaded = loadManifestDirectory(dir, dataDir);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const lines = loaded.problems.map(formatProblem);

  it('loads the good functions beside broken ones, with defaults applied', () => {
    expect(loaded.functions.map((f) => f.name).sort()).toEqual(['good-one', 'good-two']);
    const one = loaded.functions.find((f) => f.name === 'good-one')!;
    expect(one).toMatchObject({
      namespace: 'default',
      spec: { memoryMB: 128, timeoutSeconds: 3, ephemeralStorageMB: 512 },
    });
    expect(one.codeDir).toMatch(/test\/fixtures\/functions\/provided\/protocol-probe$/);
    expect(one.codeSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('materialises inline code, keeping a bootstrap executable', async () => {
    const two = loaded.functions.find((f) => f.name === 'good-two')!;
    const { statSync } = await import('node:fs');
    expect(statSync(join(two.codeDir, 'bootstrap')).mode & 0o111).not.toBe(0);
  });

  it('names file, document and field for each broken document', () => {
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/broken\.yml \(document 2\): spec\.timeoutSeconds: .*900/),
        expect.stringMatching(/broken\.yml \(document 3\): metadata\.name: must be lower-case/),
        expect.stringMatching(
          /broken\.yml \(document 4\): spec\.environment\.AWS_REGION: AWS_REGION is reserved/,
        ),
        expect.stringMatching(
          /broken\.yml \(document 5\): spec\.code: exactly one of path, inline, configMap, url or image is required/,
        ),
        expect.stringMatching(
          /broken\.yml \(document 6\): spec\.code\.path: .*does-not-exist is not a directory/,
        ),
        expect.stringMatching(/broken\.yml \(document 7\): spec: Unrecognized key: "memoryMb"/),
        expect.stringMatching(/not-yaml\.yaml \(document 1\): invalid YAML/),
        expect.stringMatching(
          /broken\.yml \(document 8\): spec\.functionVersion: .*an alias cannot point to an alias/,
        ),
        // A container-image function: cluster mode's, said when the manifest loads.
        expect.stringMatching(
          /broken\.yml \(document 9\): spec\.code\.image: InvalidParameterValueException: .*PackageType Image.* cluster mode only/,
        ),
      ]),
    );
    expect(lines).toHaveLength(9);
  });

  it('loads Alias documents', () => {
    expect(loaded.aliases).toEqual([
      expect.objectContaining({
        namespace: 'default',
        name: 'live',
        spec: {
          functionName: 'good-one',
          functionVersion: '1',
          routingConfig: { additionalVersionWeights: { '2': 0.25 } },
        },
      }),
      // spec.name is the alias name callers use; the object name only has to be unique.
      expect.objectContaining({
        namespace: 'default',
        name: 'live',
        spec: expect.objectContaining({ functionName: 'good-two' }),
      }),
    ]);
  });
});
