// The serval.dev CRDs: generated from the zod schemas, structural, and enforced by a real kube-apiserver the
// same way zod enforces them in local mode.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { type Amendment, customResourceDefinition, type Schema, structuralSchema } from '../../apis/crd.ts';
import { CRDS, crdFiles } from '../../apis/crd-definitions.ts';
import { structuralProblems } from '../../apis/crd-structural.ts';
import { REPO_ROOT } from '../support/serval.ts';
import { type Cluster, clusterAvailable, startCluster } from './cluster.ts';
import { dotted, INVALID, VALID, zodIssues } from './crd-cases.ts';

const CRD_DIR = join(REPO_ROOT, 'charts/serval/crds');
const EXAMPLES = join(REPO_ROOT, 'examples');

function openApi(crd: Record<string, any>): Schema {
  return crd.spec.versions[0].schema.openAPIV3Schema;
}

/** Every zod issue path is on the same branch as the API server's field (one a prefix of the other). */
function sameField(zodPath: string, field: string): boolean {
  const a = `${zodPath}.`;
  const b = `${dotted(field)}.`;
  return a.startsWith(b) || b.startsWith(a);
}

describe('CRD generation', () => {
  it('the committed CRDs are exactly what the zod schemas generate (npm run crds)', () => {
    const files = crdFiles();
    const committed = readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml'));
    expect(committed.sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) {
      expect(readFileSync(join(CRD_DIR, name), 'utf8'), `${name} differs; run npm run crds`).toBe(text);
    }
  });

  it('every CRD schema is structural', () => {
    for (const def of CRDS) {
      const schema = openApi(customResourceDefinition(def));
      expect(structuralProblems(schema), def.kind).toEqual([]);
      expect(schema.properties?.status?.['x-kubernetes-preserve-unknown-fields']).toBe(true);
    }
  });

  it('names, scope, subresources and printer columns', () => {
    const byKind = Object.fromEntries(
      [...crdFiles().values()].map((text) => {
        const crd = parse(text);
        return [crd.spec.names.kind, crd];
      }),
    );
    expect(Object.keys(byKind).sort()).toEqual(['Alias', 'EventSourceMapping', 'Function']);
    for (const crd of Object.values(byKind) as any[]) {
      expect(crd.spec.group).toBe('serval.dev');
      expect(crd.spec.scope).toBe('Namespaced');
      expect(crd.spec.names.categories).toEqual(['serval']);
      expect(crd.spec.versions.map((v: any) => [v.name, v.served, v.storage])).toEqual([
        ['v1alpha1', true, true],
      ]);
      expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
    }
    const columns = (kind: string) =>
      byKind[kind].spec.versions[0].additionalPrinterColumns.map((c: any) => c.name);
    expect(columns('Function')).toEqual(['Runtime', 'Latest Version', 'Ready', 'URL', 'Age']);
    expect(columns('Alias')).toEqual(['Function', 'Version', 'Age']);
    expect(columns('EventSourceMapping')).toEqual([
      'Function',
      'Source',
      'Enabled',
      'State',
      'Ready',
      'Last Result',
      'Age',
    ]);
    expect(byKind.Function.spec.names.shortNames).toEqual(['svfn', 'fn']);
    expect(byKind.Alias.spec.names.shortNames).toEqual(['svalias']);
    expect(byKind.EventSourceMapping.spec.names.shortNames).toEqual(['esm']);
  });

  it('keeps defaults, bounds and patterns from zod', () => {
    const spec = openApi(customResourceDefinition(CRDS[0]!)).properties!.spec!;
    expect(spec.properties!.memoryMB).toEqual({
      type: 'integer',
      minimum: 128,
      maximum: 10240,
      default: 128,
    });
    expect(spec.properties!.timeoutSeconds).toMatchObject({ default: 3, minimum: 1, maximum: 900 });
    expect(spec.properties!.environment).toMatchObject({
      type: 'object',
      additionalProperties: { type: 'string' },
    });
    expect(spec.properties!.code!.properties!.inline).toMatchObject({
      additionalProperties: { type: 'string' },
    });
    expect(spec.properties!.code!.properties!.path).toEqual({ type: 'string', minLength: 1 });
    expect(spec.required).toEqual(['code']);
  });

  describe('the converter', () => {
    it('maps records to additionalProperties and key patterns to CEL', () => {
      const s = structuralSchema(z.object({ m: z.record(z.string().regex(/^[a-z]+$/), z.number().int()) }));
      expect(s.properties!.m).toEqual({
        type: 'object',
        additionalProperties: { type: 'integer' },
        'x-kubernetes-validations': [
          { rule: "self.all(k, k.matches('^[a-z]+$'))", message: 'keys must match ^[a-z]+$' },
        ],
      });
    });

    it('drops additionalProperties:false, keeps loose objects open, and adds URL protocols as patterns', () => {
      const s = structuralSchema(
        z.object({
          strict: z.object({ a: z.string() }).strict(),
          loose: z.object({ a: z.string() }).loose(),
          u: z.url({ protocol: /^wss?$/ }),
        }),
      );
      expect(s.properties!.strict).toEqual({
        type: 'object',
        properties: { a: { type: 'string' } },
        required: ['a'],
      });
      expect(s.properties!.loose!['x-kubernetes-preserve-unknown-fields']).toBe(true);
      expect(s.properties!.u).toEqual({ type: 'string', format: 'uri', pattern: '^(wss?):' });
      expect(structuralProblems(s)).toEqual([]);
    });

    it('hoists the type of scalar unions and leaves mixed unions untyped', () => {
      const s = structuralSchema(
        z.object({
          age: z.union([z.literal(-1), z.number().int().min(60)]),
          port: z.union([z.number().int(), z.string()]),
          any: z.union([z.string(), z.array(z.string())]),
        }),
      );
      expect(s.properties!.age).toEqual({ type: 'integer', anyOf: [{ enum: [-1] }, { minimum: 60 }] });
      expect(s.properties!.port).toEqual({ 'x-kubernetes-int-or-string': true });
      expect(s.properties!.any).toEqual({ 'x-kubernetes-preserve-unknown-fields': true });
      expect(structuralProblems(s)).toEqual([]);
    });

    it('refuses what Kubernetes cannot take, naming the field', () => {
      expect(() => structuralSchema(z.object({ f: z.string().regex(/^(?!x)/) }))).toThrow(
        /f: pattern .* RE2/,
      );
      expect(() => structuralSchema(z.object({ f: z.string().nullable() }))).toThrow(
        /f: null is not a Kubernetes value/,
      );
      const rules = [{ rule: 'true', message: 'm' }];
      const onUntyped: Amendment = { path: 'f', why: 'test', rules };
      expect(() =>
        structuralSchema(z.object({ f: z.union([z.string(), z.array(z.string())]) }), [onUntyped]),
      ).toThrow(/f: CEL cannot see an untyped node/);
      const missing: Amendment = { path: 'g', why: 'test', rules };
      expect(() => structuralSchema(z.object({ f: z.string() }), [missing])).toThrow(
        /name no node of the schema: g/,
      );
    });

    it('the structural check finds what the API server would refuse', () => {
      const bad = {
        type: 'object',
        properties: {
          both: {
            type: 'object',
            properties: { a: { type: 'string' } },
            additionalProperties: { type: 'string' },
          },
          untyped: { minLength: 1 },
          list: { type: 'array' },
          union: { type: 'string', anyOf: [{ type: 'string', pattern: 'a' }] },
          look: { type: 'string', pattern: '^(?=a)' },
          nested: { type: 'object', properties: { metadata: { type: 'object' } } },
        },
        required: ['missing'],
      } as Schema;
      expect(structuralProblems(bad)).toEqual([
        '<root>.both: properties and additionalProperties together',
        '<root>.untyped: no type',
        '<root>.list: array without items',
        '<root>.union: anyOf branch sets type',
        '<root>.look: pattern is not RE2',
        '<root>.nested.metadata: metadata in a nested object',
        '<root>: requires missing, which it does not define',
      ]);
    });
  });

  describe('zod agrees with every case the API server is tested with', () => {
    it.each(INVALID.map((c) => [c.name, c] as const))('zod refuses: %s', (_name, c) => {
      const issues = zodIssues(c.doc);
      expect(issues, 'zod accepted it').toBeDefined();
      expect(
        issues!.some((p) => sameField(p, c.field)),
        `zod issues at ${issues!.join(', ')}`,
      ).toBe(true);
    });

    it('zod accepts every valid manifest', () => {
      for (const doc of VALID) expect(zodIssues(doc), `${doc.kind} ${doc.metadata.name}`).toBeUndefined();
    });
  });
});

describe.skipIf(!clusterAvailable)('the CRDs on a real kube-apiserver', () => {
  let cluster: Cluster;
  const ns = 'crd-test';

  const apply = (doc: unknown, ...flags: string[]) =>
    cluster.kubectl(['apply', '-n', ns, ...flags, '-f', '-'], JSON.stringify(doc));

  beforeAll(async () => {
    cluster = await startCluster();
    const applied = await cluster.kubectl(['apply', '-f', CRD_DIR]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const established = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/functions.serval.dev',
      'crd/aliases.serval.dev',
      'crd/eventsourcemappings.serval.dev',
    ]);
    expect(established.code, established.stderr).toBe(0);
    expect((await cluster.kubectl(['create', 'namespace', ns])).code).toBe(0);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('accepts the manifests local mode runs (examples/)', async () => {
    const result = await cluster.kubectl(['apply', '-n', ns, '-f', EXAMPLES]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const names = await cluster.kubectl(['get', 'functions', '-n', ns, '-o', 'name']);
    expect(names.stdout.trim().split('\n').sort()).toEqual(
      ['echo', 'echo-bootstrap', 'echo-python', 'greeter', 'hello-inline', 'nightly-report'].map(
        (n) => `function.serval.dev/${n}`,
      ),
    );
  });

  it('applies the schema defaults', async () => {
    const got = await cluster.kubectl(['get', 'function', 'echo', '-n', ns, '-o', 'json']);
    const spec = JSON.parse(got.stdout).spec;
    expect(spec).toMatchObject({
      memoryMB: 128,
      timeoutSeconds: 3,
      ephemeralStorageMB: 512,
      environment: {},
    });
    expect(spec.logging).toEqual({ format: 'Text' });
  });

  it('refuses a change of tenancy once the function exists, either way', async () => {
    const doc = (spec: Record<string, unknown>) => ({
      apiVersion: 'serval.dev/v1alpha1',
      kind: 'Function',
      metadata: { name: 'tenancy-fixed' },
      spec: {
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        code: { inline: { 'index.mjs': 'x' } },
        ...spec,
      },
    });
    const created = await apply(doc({ tenancy: { mode: 'PER_TENANT' } }));
    expect(created.code, created.stderr).toBe(0);
    const dropped = await apply(doc({}));
    expect(dropped.code).not.toBe(0);
    expect(dropped.stderr).toContain('spec.tenancy');
    expect(dropped.stderr).toContain('tenancy cannot be changed');
    // Other fields still change freely.
    const edited = await apply(doc({ tenancy: { mode: 'PER_TENANT' }, memoryMB: 256 }));
    expect(edited.code, edited.stderr).toBe(0);
    const plain = await apply({ ...doc({}), metadata: { name: 'tenancy-none' } });
    expect(plain.code, plain.stderr).toBe(0);
    const added = await apply({
      ...doc({ tenancy: { mode: 'PER_TENANT' } }),
      metadata: { name: 'tenancy-none' },
    });
    expect(added.code).not.toBe(0);
    expect(added.stderr).toContain('tenancy cannot be changed');
  });

  it('accepts every valid manifest (each source kind, aliases, the optional Function features)', async () => {
    for (const doc of VALID) {
      const result = await apply(doc);
      expect(result.stderr, `${doc.kind} ${doc.metadata.name}`).toBe('');
      expect(result.code).toBe(0);
    }
    const esm = JSON.parse(
      (await cluster.kubectl(['get', 'esm', 'queue-sqs', '-n', ns, '-o', 'json'])).stdout,
    );
    // batchSize has no schema default: Lambda's differs per source (SQS 10, MQ and Kafka 100).
    expect(esm.spec.batchSize).toBeUndefined();
    expect(esm.spec).toMatchObject({
      enabled: true,
      maximumRetryAttempts: -1,
      maximumRecordAgeSeconds: -1,
    });
  });

  it.each(INVALID.map((c) => [c.name, c] as const))('refuses %s, naming the field', async (_name, c) => {
    const result = await apply(c.doc, '--dry-run=server');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(c.field);
    expect(result.stderr).toContain(c.message);
  });

  it('keeps status apart from spec and shows it in the printer columns', async () => {
    const status = {
      status: {
        observedGeneration: 1,
        latestVersion: '2',
        url: 'http://abc.lambda-url.local.localhost/',
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Published', lastTransitionTime: '2025-01-01T00:00:00Z' },
        ],
        versions: [
          { version: '1', codeSha256: 'x' },
          { version: '2', codeSha256: 'y', revision: 'echo-2' },
        ],
        futureField: { kept: true },
      },
    };
    const patched = await cluster.kubectl([
      'patch',
      'function',
      'echo',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify(status),
    ]);
    expect(patched.stderr).toBe('');
    // A status written through the main resource is ignored: that is what the subresource is for.
    await cluster.kubectl([
      'patch',
      'function',
      'echo',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"status":{"latestVersion":"9"}}',
    ]);
    const got = JSON.parse(
      (await cluster.kubectl(['get', 'function', 'echo', '-n', ns, '-o', 'json'])).stdout,
    );
    expect(got.status.latestVersion).toBe('2');
    expect(got.status.futureField).toEqual({ kept: true });

    const table = await cluster.kubectl(['get', 'svfn', 'echo', '-n', ns]);
    expect(table.stdout).toMatch(/NAME\s+RUNTIME\s+LATEST VERSION\s+READY\s+AGE/);
    expect(table.stdout).toMatch(/echo\s+nodejs24\.x\s+2\s+True\s+/);

    const badStatus = { status: { latestVersion: 'two' } };
    const refused = await cluster.kubectl([
      'patch',
      'function',
      'echo',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify(badStatus),
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('status.latestVersion');
  });

  it('lists every kind under the serval category and the short names', async () => {
    await cluster.kubectl([
      'patch',
      'esm',
      'noon',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"sourceKind":"schedule"}}',
    ]);
    const esm = await cluster.kubectl(['get', 'esm', 'noon', '-n', ns]);
    expect(esm.stdout).toMatch(/NAME\s+FUNCTION\s+SOURCE\s+ENABLED\s+STATE\s+READY\s+AGE/);
    expect(esm.stdout).toMatch(/noon\s+echo\s+schedule\s+false\s+/);
    const alias = await cluster.kubectl(['get', 'svalias', 'under-test', '-n', ns]);
    expect(alias.stdout).toMatch(/under-test\s+echo\s+3\s+/);
    const all = await cluster.kubectl(['get', 'serval', '-n', ns, '-o', 'name']);
    expect(all.stdout).toContain('function.serval.dev/echo');
    expect(all.stdout).toContain('alias.serval.dev/latest');
    expect(all.stdout).toContain('eventsourcemapping.serval.dev/orders-kafka');
  });
});
