// An Alias manifest's `provisionedConcurrency` is put as PutProvisionedConcurrencyConfig would be, at
// start-up (local mode): the version is published first, then the gateway restarts with the alias.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetProvisionedConcurrencyConfigCommand } from '@aws-sdk/client-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { servalLambdaClient } from '../support/lambda-client.ts';
import {
  functionManifest,
  inlineNode,
  startServal,
  type TestServal,
  testDataRoot,
} from '../support/serval.ts';

const work = mkdtempSync(join(testDataRoot(), 'provisioned-manifest-'));
const manifests = join(work, 'manifests');
const dataDir = join(work, 'data');
const fn = functionManifest(
  inlineNode(
    'declared',
    'const initAt = Date.now();\nexport const handler = async () => ({ type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, initAt });\n',
  ),
);
const alias = {
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'Alias',
  metadata: { name: 'live' },
  spec: { functionName: 'declared', functionVersion: '1', provisionedConcurrency: 1 },
};
let serval: TestServal | undefined;

afterAll(async () => {
  await serval?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('an Alias manifest with provisionedConcurrency', () => {
  it('provisions the alias at start-up, and stops when the manifest drops it', async () => {
    mkdirSync(manifests, { recursive: true });
    writeFileSync(join(manifests, 'functions.yaml'), stringify(fn));
    serval = await startServal({ manifestsDir: manifests, config: { dataDir } });
    const published = await fetch(`${serval.url}/2015-03-31/functions/declared/versions`, {
      method: 'POST',
      body: '{}',
    });
    expect(published.status).toBe(201);
    await serval.stop();

    writeFileSync(join(manifests, 'functions.yaml'), `${stringify(fn)}---\n${stringify(alias)}`);
    serval = await startServal({ manifestsDir: manifests, config: { dataDir } });
    const lambda = servalLambdaClient(serval.url);
    try {
      const deadline = Date.now() + 60_000;
      let status: string | undefined;
      while (Date.now() < deadline && status !== 'READY') {
        const got = await lambda.send(
          new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'declared', Qualifier: 'live' }),
        );
        status = got.Status;
        if (status !== 'READY') await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe('READY');
      const before = Date.now();
      const res = await serval.invoke('declared:live');
      const answer = res.json() as { type: string; initAt: number };
      expect(answer.type).toBe('provisioned-concurrency');
      expect(answer.initAt).toBeLessThan(before);
    } finally {
      lambda.destroy();
    }
    await serval.stop();

    // The manifest no longer declares it: the configuration goes at the next start.
    const { provisionedConcurrency: _, ...undeclared } = alias.spec;
    writeFileSync(
      join(manifests, 'functions.yaml'),
      `${stringify(fn)}---\n${stringify({ ...alias, spec: undeclared })}`,
    );
    serval = await startServal({ manifestsDir: manifests, config: { dataDir } });
    const res = await fetch(
      `${serval.url}/2019-09-30/functions/declared/provisioned-concurrency?Qualifier=live`,
    );
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toMatch(/^ProvisionedConcurrencyConfigNotFoundException/);
  }, 120_000);
});
