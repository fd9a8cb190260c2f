// Finding 9, ARN part (issue #11): ARNs of another partition or region (`arn:aws-cn:…`, `arn:awsfoo:…`,
// another region) invoked the local function. This gateway answers only for its own partition (`serval`,
// or `aws` as the SDKs write it) and region; others get Lambda's cross-region ResourceNotFoundException.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inlineNode, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [inlineNode('echo', 'export const handler = async () => "local";')],
  });
});
afterAll(() => serval.stop());

describe('full ARNs', () => {
  it.each([
    'arn:serval:lambda:local:default:function:echo',
    'arn:aws:lambda:local:default:function:echo',
    'arn:aws:lambda:local:default:function:echo:$LATEST',
  ])('%s is this gateway', async (arn) => {
    const res = await serval.invoke(arn);
    expect(res.status, res.text).toBe(200);
    expect(res.json()).toBe('local');
  });

  it.each([
    'arn:aws-cn:lambda:local:default:function:echo',
    'arn:aws-us-gov:lambda:local:default:function:echo',
    'arn:awsfoo:lambda:local:default:function:echo',
    'arn:SERVAL:lambda:local:default:function:echo',
    'arn::lambda:local:default:function:echo',
    'arn:aws:lambda:us-east-1:default:function:echo',
    'arn:serval:lambda:eu-west-1:default:function:echo:$LATEST',
    'arn:aws:lambda::default:function:echo',
  ])('%s is refused', async (arn) => {
    const res = await serval.invoke(arn);
    expect(res.status, res.text).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect((res.json() as { Message: string }).Message).toMatch(/not reachable/);
  });

  it('the control API refuses them too', async () => {
    const res = await fetch(
      `${serval.url}/2015-03-31/functions/${encodeURIComponent('arn:aws-cn:lambda:local:default:function:echo')}/versions`,
    );
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
  });
});
