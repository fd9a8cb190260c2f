// A record's JSON is serialized once and joined into the payload byte for byte as JSON.stringify would
// write the whole event; the filter view is built only when read.
import { describe, expect, it } from 'vitest';
import { lazyFilterView, recordsPayload } from './record-json.ts';
import type { QueueInfo } from './sqs/connection.ts';
import { sqsRecord } from './sqs/event.ts';

const queue: QueueInfo = {
  url: 'http://127.0.0.1:9324/000000000000/q',
  arn: 'arn:aws:sqs:local:000000000000:q',
  region: 'local',
  fifo: false,
  visibilityTimeoutSeconds: 30,
};

describe('record JSON', () => {
  it('joins records into the payload JSON.stringify gives for the whole event', () => {
    const records = ['{"n":1}', 'plain "text"\n', '{"emoji":"\u{1F600}"}'].map((body, i) =>
      sqsRecord(
        {
          MessageId: `m${i}`,
          ReceiptHandle: `r${i}`,
          Body: body,
          MD5OfBody: 'x',
          Attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' },
          MessageAttributes: { a: { DataType: 'String', StringValue: 'v' } },
        },
        queue,
      ),
    );
    const whole = JSON.stringify({ Records: records.map((r) => r.event) });
    expect(recordsPayload(records).toString('utf8')).toBe(whole);
    expect(records.reduce((n, r) => n + r.eventBytes, 0)).toBe(
      Buffer.byteLength(whole) - Buffer.byteLength('{"Records":[]}') - (records.length - 1),
    );
    expect(records[0]!.filterView.body).toEqual({ n: 1 });
  });

  it('builds the filter view on first read only, once', () => {
    let built = 0;
    const record = lazyFilterView({ id: 'a' }, () => {
      built++;
      return { body: 'x' };
    });
    expect(built).toBe(0);
    expect(record.filterView).toEqual({ body: 'x' });
    expect(record.filterView).toBe(record.filterView);
    expect(built).toBe(1);
  });
});
