// `serval filter test`, run as the real command: exit 0 on a match, 1 on none, 2 on an invalid pattern or
// event with the field named.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/serval.ts';

function filterTest(pattern: unknown, event: unknown) {
  const result = spawnSync(
    process.execPath,
    [
      'bin/serval.mjs',
      'filter',
      'test',
      '--pattern',
      typeof pattern === 'string' ? pattern : JSON.stringify(pattern),
      '--event',
      typeof event === 'string' ? event : JSON.stringify(event),
    ],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  return { code: result.status, out: result.stdout.trim() };
}

const sqsRecord = { eventSource: 'aws:sqs', messageId: 'm-1', body: '{"kind":"order","amount":150}' };

describe('serval filter test', () => {
  it('exits 0 on a match (an SQS record, its JSON body parsed)', () => {
    expect(filterTest({ body: { amount: [{ numeric: ['>', 100] }] } }, sqsRecord)).toEqual({
      code: 0,
      out: 'match',
    });
  });

  it('exits 1 when nothing matches', () => {
    expect(filterTest({ body: { kind: ['refund'] } }, sqsRecord)).toEqual({ code: 1, out: 'no match' });
  });

  it('reads a whole SQS event, and the base64 data of an MQ or NATS record', () => {
    expect(filterTest({ body: { kind: ['order'] } }, { Records: [sqsRecord] }).code).toBe(0);
    const mq = { redelivered: false, data: Buffer.from('{"type":"keep"}').toString('base64') };
    expect(filterTest({ data: { type: ['keep'] } }, mq).code).toBe(0);
    expect(filterTest({ data: { type: ['drop'] } }, mq).code).toBe(1);
  });

  it('exits 2 naming the field of an invalid pattern', () => {
    expect(filterTest({ body: { amount: [{ numeric: ['>', 'ten'] }] } }, sqsRecord)).toEqual({
      code: 2,
      out: 'invalid pattern: body.amount[0].numeric[1]: must be a number',
    });
    expect(filterTest('{not json', sqsRecord).code).toBe(2);
    expect(filterTest({ body: { a: [1] } }, 'not json').code).toBe(2);
  });
});
