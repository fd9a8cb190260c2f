// The provisioned concurrency operations through boto3, each raw response checked against botocore's
// model of the Lambda API (test/fixtures/control-api/aws_shapes.py).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Available, runBoto3, shapeCheckedScript } from '../support/boto3.ts';
import { inlineNode, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;

beforeAll(async () => {
  serval = await startServal({
    functions: [inlineNode('boto-provisioned', 'export const handler = async () => ({ ok: true });\n')],
  });
}, 60_000);
afterAll(() => serval?.stop());

describe.skipIf(!boto3Available)('provisioned concurrency through boto3', () => {
  it('answers Put/Get/List/Delete in the shapes of AWS’s model', async () => {
    const res = await runBoto3(shapeCheckedScript('provisioned_flow.py'), {
      ENDPOINT: serval.url,
      FUNCTION: 'boto-provisioned',
    });
    expect(res.stderr + res.stdout).toMatch(/^ok: \d+ operations, every response in AWS shape$/m);
    expect(res.code).toBe(0);
  }, 120_000);
});
