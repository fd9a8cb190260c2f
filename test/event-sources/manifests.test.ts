// EventSourceMapping manifests in a `serval dev` directory: good ones load, bad ones are refused with the
// file, document and field named.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { manifestMappingUuid } from '../../gateway/src/event-sources/catalog.ts';
import { loadManifestDirectory } from '../../gateway/src/registry/manifest-loader.ts';
import { functionManifest, testDataRoot } from '../support/serval.ts';

const work = mkdtempSync(join(testDataRoot(), 'esm-manifests-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const mapping = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'EventSourceMapping',
  metadata: { name },
  spec: {
    functionName: 'worker',
    source: { sqs: { queueUrl: 'http://127.0.0.1:9324/000000000000/jobs' } },
    ...spec,
  },
});

function load(docs: unknown[]) {
  const dir = join(work, `m${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const fn = functionManifest({
    name: 'worker',
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    inline: { 'index.mjs': 'export const handler = async () => {};' },
  });
  writeFileSync(join(dir, 'all.yaml'), [fn, ...docs].map((d) => stringify(d)).join('---\n'));
  return loadManifestDirectory(dir, join(work, 'data'));
}

describe('EventSourceMapping manifests', () => {
  it('loads a valid mapping with a UUID that stays the same across loads', () => {
    const loaded = load([mapping('jobs', { batchSize: 5 })]);
    expect(loaded.problems).toEqual([]);
    expect(loaded.eventSourceMappings).toHaveLength(1);
    expect(loaded.eventSourceMappings[0]).toMatchObject({
      namespace: 'default',
      name: 'jobs',
      spec: { batchSize: 5 },
    });
    expect(manifestMappingUuid('default', 'jobs')).toBe(manifestMappingUuid('default', 'jobs'));
    expect(manifestMappingUuid('default', 'jobs')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it.each([
    ['an unknown function', { functionName: 'nobody' }, 'spec.functionName', 'is not defined'],
    ['a batch size out of range', { batchSize: 0 }, 'spec.batchSize', '>=1'],
    [
      'an SQS batch above 10 without a window',
      { batchSize: 50 },
      'spec.maximumBatchingWindowSeconds',
      'at least 1',
    ],
    [
      'a FIFO batch above 10',
      {
        batchSize: 11,
        maximumBatchingWindowSeconds: 1,
        source: { sqs: { queueUrl: 'http://127.0.0.1:9324/000000000000/jobs.fifo' } },
      },
      'spec.batchSize',
      'FIFO',
    ],
    [
      'an invalid filter',
      { filterCriteria: { filters: [{ pattern: '{"body":{"n":[{"prefix":1}]}}' }] } },
      'spec.filterCriteria.filters[0].pattern',
      'body.n[0].prefix: must be a string',
    ],
    [
      'a filter that is not JSON',
      { filterCriteria: { filters: [{ pattern: '{oops' }] } },
      'spec.filterCriteria.filters[0].pattern',
      'not valid JSON',
    ],
    [
      'maximum concurrency above 1000',
      { scalingConfig: { maximumConcurrency: 1001 } },
      'spec.scalingConfig.maximumConcurrency',
      '1000',
    ],
  ])('refuses %s, naming the field', (_name, spec, field, message) => {
    const loaded = load([mapping('bad', spec)]);
    expect(loaded.eventSourceMappings).toEqual([]);
    expect(loaded.problems).toEqual([
      expect.objectContaining({ document: 2, field, message: expect.stringContaining(message) }),
    ]);
  });
});
