// `kubectl apply -f examples/` on the rig: every example Function becomes Ready and answers through the
// gateway, as `npx serval dev examples` serves the same manifests locally (#15: only hello-inline used to,
// the others carried their code by `code.path`, which only local mode can read).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/serval.ts';
import { rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'examples';
const EXAMPLES = join(REPO_ROOT, 'examples');

/** Each example Function and an event it answers, with what it must answer. */
const CALLS: Record<string, { event: unknown; expect: (body: string) => void }> = {
  echo: { event: { a: 1 }, expect: (b) => expect(JSON.parse(b)).toEqual({ a: 1 }) },
  'echo-python': { event: { a: 1 }, expect: (b) => expect(JSON.parse(b)).toEqual({ a: 1 }) },
  'echo-bootstrap': { event: { a: 1 }, expect: (b) => expect(JSON.parse(b)).toEqual({ a: 1 }) },
  'hello-inline': {
    event: { name: 'Serval' },
    expect: (b) => expect(JSON.parse(b).message).toBe('Hello, Serval!'),
  },
  greeter: {
    event: { queryStringParameters: { name: 'Ada' } },
    expect: (b) => expect(JSON.parse(b).body).toBe('Hello, Ada!\n'),
  },
  'nightly-report': {
    event: {
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2026-11-24T03:00:00Z',
      detail: {},
    },
    expect: (b) => expect(JSON.parse(b)).toMatchObject({ runs: 1, function: 'nightly-report' }),
  },
};

describe.skipIf(!rigAvailable)('kubectl apply -f examples/', () => {
  let rig: ServalRig;

  beforeAll(async () => {
    rig = await startServalRig([NS]);
  }, 180_000);

  afterAll(async () => {
    await rig?.stop();
  });

  it('makes every example Function Ready, and each answers through the gateway', async () => {
    const functions = readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) =>
        parseAllDocuments(readFileSync(join(EXAMPLES, f), 'utf8'))
          .map((d) => d.toJS())
          .filter((d) => d?.kind === 'Function')
          .map((d) => d.metadata.name as string),
      );
    // Every example Function is exercised here; a new one needs its call above.
    expect(functions.sort()).toEqual(Object.keys(CALLS).sort());

    await rig.kubectl(['apply', '-n', NS, '-f', EXAMPLES]);
    for (const name of functions) {
      await rig.until(`${name} Ready`, async () => {
        const fn = await rig.json(['get', 'function', name, '-n', NS]);
        return fn.status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
        );
      });
      const call = CALLS[name]!;
      const res = await rig.until(`${name} answers`, async () => {
        const r = await rig.invoke(NS, name, call.event);
        return r.status === 404 ? undefined : r; // until the gateway's watch has it
      });
      expect({ name, status: res.status, error: res.error }).toEqual({ name, status: 200, error: null });
      call.expect(res.body);
    }
  }, 180_000);
});
