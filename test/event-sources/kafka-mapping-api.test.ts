// Kafka mappings through Lambda's mapping API in Lambda's wire shape (what `aws lambda
// create-event-source-mapping --self-managed-event-source … --topics …` sends): created, read back field for
// field, and refused with InvalidParameterValueException naming the field when a setting is out of range.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'consumer',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'echo-esm'),
      },
    ],
  });
});
afterAll(async () => {
  await serval?.stop();
});

const BASE = '/2015-03-31/event-source-mappings/';
async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${serval.url}${BASE}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    type: res.headers.get('x-amzn-errortype'),
    json: (await res.json().catch(() => ({}))) as any,
  };
}

// Nothing listens on port 1: the mapping exists and reports the broker as unreachable.
const source = {
  SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ['127.0.0.1:1'] } },
  Topics: ['orders'],
};

describe('Kafka mappings through the Lambda API', () => {
  it('creates one and reads it back', async () => {
    // Every field a Kafka mapping takes comes back as it was sent.
    const settings = {
      ...source,
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-group' },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      ParallelizationFactor: 4,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 3600,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    };
    const created = await call('POST', '', { FunctionName: 'consumer', ...settings });
    expect(created.status).toBe(202);
    const got = await call('GET', created.json.UUID);
    expect(got.json).toMatchObject({ UUID: created.json.UUID, ...settings });
    expect((await call('DELETE', created.json.UUID)).status).toBe(202);
  });

  it.each([
    [{ ParallelizationFactor: 11, StartingPosition: 'LATEST' }, 'ParallelizationFactor'],
    [{ BatchSize: 10_001, StartingPosition: 'LATEST' }, 'BatchSize'],
    [{ MaximumRecordAgeInSeconds: 30, StartingPosition: 'LATEST' }, 'MaximumRecordAgeInSeconds'],
    [{}, 'StartingPosition'],
  ] as const)('refuses %j naming %s', async (fields, field) => {
    const res = await call('POST', '', { FunctionName: 'consumer', ...source, ...fields });
    expect(res.status).toBe(400);
    expect(res.type).toBe('InvalidParameterValueException');
    expect(JSON.stringify(res.json)).toContain(field);
  });
});
