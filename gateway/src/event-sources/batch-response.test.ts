// Lambda's partial batch response rules (reference §10.2), including the ones a Node handler cannot produce
// (invalid JSON): the SQS tests in test/event-sources/ cover the rest against a real queue.
import { describe, expect, it } from 'vitest';
import { readBatchResponse } from './batch-response.ts';
import type { SourceRecord } from './source-kind.ts';

const record = (id: string): SourceRecord => ({ id, filterView: {}, eventBytes: 10, deliveryCount: 1 });
const batch = [record('a'), record('b'), record('c')];
const read = (text: string) => readBatchResponse(Buffer.from(text), batch);

describe('readBatchResponse', () => {
  it.each([
    ['an empty response', ''],
    ['a null response', 'null'],
    ['an empty list', '{"batchItemFailures":[]}'],
    ['a null list', '{"batchItemFailures":null}'],
    ['an object without the list', '{"ok":true}'],
  ])('%s is full success', (_name, text) => {
    expect(read(text)).toEqual({ kind: 'success' });
  });

  it('names the failed records, once each', () => {
    const outcome = read(
      '{"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":"b"},{"itemIdentifier":"c"}]}',
    );
    expect(outcome).toEqual({ kind: 'partial', failed: [batch[1], batch[2]] });
  });

  it.each([
    ['invalid JSON', '{"batchItemFailures":[{"itemIdentifier":"b"}'],
    ['an unknown itemIdentifier', '{"batchItemFailures":[{"itemIdentifier":"z"}]}'],
    ['an empty itemIdentifier', '{"batchItemFailures":[{"itemIdentifier":""}]}'],
    ['a null itemIdentifier', '{"batchItemFailures":[{"itemIdentifier":null}]}'],
    ['a wrongly keyed entry', '{"batchItemFailures":[{"itemId":"b"}]}'],
    ['a list that is not a list', '{"batchItemFailures":"b"}'],
  ])('%s fails the whole batch', (_name, text) => {
    expect(read(text)).toMatchObject({ kind: 'failure', reason: 'invalid_response' });
  });
});
