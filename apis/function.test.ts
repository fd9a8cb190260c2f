// The Function schema's validation table: each invalid spec is refused naming its field.
import { describe, expect, it } from 'vitest';
import { FunctionSchema } from './function.ts';

const base = {
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'Function',
  metadata: { name: 'fn' },
  spec: { runtime: 'nodejs24.x', handler: 'index.handler', code: { path: '.' } },
};
const withSpec = (spec: Record<string, unknown>) => ({ ...base, spec: { ...base.spec, ...spec } });

describe('FunctionSchema', () => {
  it('accepts a minimal function and applies Lambda defaults', () => {
    const parsed = FunctionSchema.parse(base);
    expect(parsed.spec).toMatchObject({
      memoryMB: 128,
      timeoutSeconds: 3,
      ephemeralStorageMB: 512,
      environment: {},
    });
    expect(parsed.metadata.namespace).toBe('default');
  });

  it('takes maxConcurrencyPerEnvironment from 1 to 1,600, and says the bound it broke', () => {
    expect(FunctionSchema.parse(withSpec({ maxConcurrencyPerEnvironment: 1600 })).spec).toMatchObject({
      maxConcurrencyPerEnvironment: 1600,
    });
    expect(FunctionSchema.parse(base).spec.maxConcurrencyPerEnvironment).toBeUndefined();
    const low = FunctionSchema.safeParse(withSpec({ maxConcurrencyPerEnvironment: 0 }));
    expect(low.error?.issues[0]?.message).toBe('Member must have value greater than or equal to 1');
    const high = FunctionSchema.safeParse(withSpec({ maxConcurrencyPerEnvironment: 1601 }));
    expect(high.error?.issues[0]?.message).toBe('Member must have value less than or equal to 1600');
  });

  it.each([
    ['metadata.name', { ...base, metadata: { name: 'Has_Upper' } }],
    ['metadata.name', { ...base, metadata: { name: 'x'.repeat(65) } }],
    ['spec.runtime', withSpec({ runtime: 'java21' })],
    ['spec.handler', withSpec({ handler: 'index handler' })],
    ['spec.handler', withSpec({ handler: undefined })],
    ['spec.memoryMB', withSpec({ memoryMB: 127 })],
    ['spec.memoryMB', withSpec({ memoryMB: 10241 })],
    ['spec.timeoutSeconds', withSpec({ timeoutSeconds: 0 })],
    ['spec.timeoutSeconds', withSpec({ timeoutSeconds: 901 })],
    ['spec.ephemeralStorageMB', withSpec({ ephemeralStorageMB: 511 })],
    ['spec.environment.1BAD', withSpec({ environment: { '1BAD': 'x' } })],
    ['spec.environment._HANDLER', withSpec({ environment: { _HANDLER: 'x' } })],
    ['spec.environment', withSpec({ environment: { BIG: 'x'.repeat(4097) } })],
    ['spec.code', withSpec({ code: { path: '.', inline: { 'a.js': '' } } })],
    ['spec.code.inline.../escape.js', withSpec({ code: { inline: { '../escape.js': '' } } })],
    ['spec.reservedConcurrency', withSpec({ reservedConcurrency: -1 })],
    ['spec.maxConcurrencyPerEnvironment', withSpec({ maxConcurrencyPerEnvironment: 0 })],
    ['spec.maxConcurrencyPerEnvironment', withSpec({ maxConcurrencyPerEnvironment: 1601 })],
    ['spec.maxConcurrencyPerEnvironment', withSpec({ maxConcurrencyPerEnvironment: 2.5 })],
    [
      'spec.maxConcurrencyPerEnvironment',
      withSpec({ runtime: 'python3.13', handler: 'app.handler', maxConcurrencyPerEnvironment: 4 }),
    ],
    [
      'spec.environment.AWS_LAMBDA_MAX_CONCURRENCY',
      withSpec({ environment: { AWS_LAMBDA_MAX_CONCURRENCY: '4' } }),
    ],
    ['spec.url.qualifier', withSpec({ url: { qualifier: '3' } })],
    ['spec.url.invokeMode', withSpec({ url: { invokeMode: 'STREAMING' } })],
    ['spec.alb.rules.0', withSpec({ alb: { rules: [{ priority: 1 }] } })],
    ['spec.memoryMb', withSpec({ memoryMb: 256 })],
    ['spec.async.maximumRetryAttempts', withSpec({ async: { maximumRetryAttempts: 3 } })],
    ['spec.async.maximumEventAgeSeconds', withSpec({ async: { maximumEventAgeSeconds: 59 } })],
    ['spec.async.maximumEventAgeSeconds', withSpec({ async: { maximumEventAgeSeconds: 21601 } })],
    [
      'spec.async.destinations.onSuccess',
      withSpec({ async: { destinations: { onSuccess: { function: 'a', nats: { subject: 'b' } } } } }),
    ],
    [
      'spec.async.destinations.onFailure.http.url',
      withSpec({ async: { destinations: { onFailure: { http: { url: 'ftp://x' } } } } }),
    ],
    ['spec.async.deadLetter', withSpec({ async: { deadLetter: { function: 'other' } } })],
    [
      'spec.async.destinations.onFailure.nats.subject',
      withSpec({ async: { destinations: { onFailure: { nats: { subject: 'a.>' } } } } }),
    ],
  ])('refuses %s', (field, doc) => {
    const result = FunctionSchema.safeParse(doc);
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) =>
      [...i.path, ...(i.code === 'unrecognized_keys' ? i.keys : [])].join('.'),
    );
    expect(paths).toContain(field);
  });
});
