// Lambda's event source mapping API on the gateway, driven by the AWS SDK v3 and the AWS CLI: create, get,
// list with paging, update (disable and enable without losing messages), delete, and bad input refused as
// InvalidParameterValueException naming the field.
import {
  CreateEventSourceMappingCommand,
  DeleteEventSourceMappingCommand,
  GetEventSourceMappingCommand,
  InvalidParameterValueException,
  type LambdaClient,
  ListEventSourceMappingsCommand,
  ResourceConflictException,
  ResourceNotFoundException,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aws, awsCliAvailable } from '../support/aws-cli.ts';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { startServal, type TestServal } from '../support/serval.ts';
import {
  SQS_CREDENTIALS,
  sqsServerAvailable,
  startSqsServer,
  type TestSqsServer,
} from '../support/sqs-server.ts';
import {
  createQueue,
  deliveries,
  eventually,
  lambdaClient,
  type Queue,
  queueDepth,
  RECORDER,
  sendAll,
} from './sqs-support.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.skipIf(!sqsServerAvailable)('the event source mapping API', () => {
  let server: TestSqsServer;
  let sqs: SQSClient;
  let sink: HttpSink;
  let serval: TestServal;
  let lambda: LambdaClient;
  const queues: Queue[] = [];

  beforeAll(async () => {
    server = await startSqsServer();
    sqs = server.client();
    sink = await startHttpSink();
    for (const name of ['api-a', 'api-b', 'api-c']) queues.push(await createQueue(sqs, name));
    serval = await startServal({
      functions: [
        {
          name: 'consumer',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          inline: { 'index.mjs': RECORDER },
          environment: { SINK: sink.url },
        },
      ],
      env: {
        AWS_ACCESS_KEY_ID: SQS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: SQS_CREDENTIALS.secretAccessKey,
      },
    });
    lambda = lambdaClient(serval.url);
  }, 120_000);

  afterAll(async () => {
    lambda?.destroy();
    await serval?.stop();
    await sink?.close();
    await server?.close();
  });

  it('creates, gets, lists with paging, disables and enables without losing messages, and deletes', async () => {
    const created = await lambda.send(
      new CreateEventSourceMappingCommand({
        FunctionName: 'consumer',
        EventSourceArn: queues[0]!.url,
        BatchSize: 5,
        FilterCriteria: { Filters: [{ Pattern: '{"body":{"keep":[true]}}' }] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 3 },
      }),
    );
    expect(created.$metadata.httpStatusCode).toBe(202);
    expect(created.UUID).toMatch(UUID);
    expect(created).toMatchObject({
      State: 'Creating',
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 0,
      EventSourceArn: queues[0]!.url,
      FunctionArn: 'arn:serval:lambda:local:default:function:consumer',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 3 },
      FilterCriteria: { Filters: [{ Pattern: '{"body":{"keep":[true]}}' }] },
      LastProcessingResult: 'No records processed',
    });
    const uuid = created.UUID!;
    const got = await eventually(async () => {
      const m = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      return m.State === 'Enabled' ? m : undefined;
    }, 'Enabled');
    expect(got.StateTransitionReason).toBe('USER_INITIATED');

    // Messages flow; a filtered one is deleted without an invocation.
    const [kept, dropped] = await sendAll(sqs, queues[0]!, [
      { MessageBody: '{"keep":true}' },
      { MessageBody: '{"keep":false}' },
    ]);
    await eventually(() => deliveries(sink, 'consumer').has(kept!) || undefined, 'the kept message');
    await eventually(async () => (await queueDepth(sqs, queues[0]!)) === 0 || undefined, 'drained');
    expect(deliveries(sink, 'consumer').has(dropped!)).toBe(false);
    await eventually(async () => {
      const m = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      return m.LastProcessingResult === 'OK' || undefined;
    }, 'LastProcessingResult OK');

    // Disabled, it leaves messages in the queue; enabled again, it delivers them.
    const disabling = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: false }));
    expect(disabling.State).toBe('Disabling');
    await eventually(async () => {
      const m = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      return m.State === 'Disabled' || undefined;
    }, 'Disabled');
    const [waiting] = await sendAll(sqs, queues[0]!, [{ MessageBody: '{"keep":true}' }]);
    await new Promise((r) => setTimeout(r, 2500)); // longer than a poll: a disabled mapping must not take it
    expect(deliveries(sink, 'consumer').has(waiting!)).toBe(false);
    expect(await queueDepth(sqs, queues[0]!)).toBe(1);
    const enabling = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: true }));
    expect(enabling.State).toBe('Enabling');
    await eventually(() => deliveries(sink, 'consumer').has(waiting!) || undefined, 'delivered after enable');

    // A second mapping of the same function and queue conflicts.
    await expect(
      lambda.send(
        new CreateEventSourceMappingCommand({ FunctionName: 'consumer', EventSourceArn: queues[0]!.url }),
      ),
    ).rejects.toBeInstanceOf(ResourceConflictException);

    // Paging: three mappings, two per page.
    for (const q of queues.slice(1)) {
      await lambda.send(
        new CreateEventSourceMappingCommand({
          FunctionName: 'consumer',
          EventSourceArn: q.url,
          Enabled: false,
        }),
      );
    }
    const first = await lambda.send(
      new ListEventSourceMappingsCommand({ FunctionName: 'consumer', MaxItems: 2 }),
    );
    expect(first.EventSourceMappings).toHaveLength(2);
    expect(first.NextMarker).toBeDefined();
    const second = await lambda.send(
      new ListEventSourceMappingsCommand({ FunctionName: 'consumer', MaxItems: 2, Marker: first.NextMarker }),
    );
    expect(second.EventSourceMappings).toHaveLength(1);
    expect(second.NextMarker).toBeUndefined();
    const all = [...first.EventSourceMappings!, ...second.EventSourceMappings!].map((m) => m.EventSourceArn);
    expect(all.sort()).toEqual(queues.map((q) => q.url).sort());
    const bySource = await lambda.send(
      new ListEventSourceMappingsCommand({ EventSourceArn: queues[2]!.url }),
    );
    expect(bySource.EventSourceMappings?.map((m) => m.EventSourceArn)).toEqual([queues[2]!.url]);

    // Delete answers Deleting, then the mapping is gone.
    const deleted = await lambda.send(new DeleteEventSourceMappingCommand({ UUID: uuid }));
    expect(deleted.State).toBe('Deleting');
    await expect(lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it.each([
    ['a batch size out of range', { BatchSize: 0 }, 'BatchSize'],
    ['an SQS batch above 10 without a window', { BatchSize: 100 }, 'MaximumBatchingWindowInSeconds'],
    ['a window above 300 s', { MaximumBatchingWindowInSeconds: 301 }, 'MaximumBatchingWindowInSeconds'],
    [
      'an invalid filter',
      { FilterCriteria: { Filters: [{ Pattern: '{"body":{"n":[{"numeric":[">"]}]}}' }] } },
      'FilterCriteria.Filters[0].Pattern: body.n[0].numeric',
    ],
    [
      'six filters',
      { FilterCriteria: { Filters: Array.from({ length: 6 }, () => ({ Pattern: '{"a":[1]}' })) } },
      'FilterCriteria.Filters',
    ],
    ['an unknown function', { FunctionName: 'nobody' }, 'FunctionName'],
    [
      'a source it cannot read',
      { EventSourceArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/s' },
      'EventSourceArn',
    ],
    [
      'maximum concurrency below 2',
      { ScalingConfig: { MaximumConcurrency: 1 } },
      'ScalingConfig.MaximumConcurrency',
    ],
  ])('refuses %s, naming the field', async (_name, change, field) => {
    const error = await lambda
      .send(
        new CreateEventSourceMappingCommand({
          FunctionName: 'consumer',
          EventSourceArn: queues[1]!.url,
          ...(change as object),
        }),
      )
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InvalidParameterValueException);
    expect((error as Error).message.startsWith(`${field}: `)).toBe(true);
  });

  it('answers a body that is not JSON with InvalidRequestContentException, not a 500', async () => {
    for (const body of ['{not json', '[1,2]', '"text"']) {
      const res = await fetch(`${serval.url}/2015-03-31/event-source-mappings/`, { method: 'POST', body });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
    }
    const res = await fetch(`${serval.url}/2015-03-31/Event-Source-Mappings/`, { method: 'GET' });
    expect(res.status).toBe(404); // case-sensitive, as Lambda's routes are
  });

  it('answers an unknown UUID with ResourceNotFoundException', async () => {
    await expect(
      lambda.send(new GetEventSourceMappingCommand({ UUID: '00000000-0000-4000-8000-000000000000' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it.skipIf(!awsCliAvailable)(
    'works with `aws lambda list-event-source-mappings --endpoint-url`',
    async () => {
      const listed = await aws([
        'lambda',
        'list-event-source-mappings',
        '--endpoint-url',
        serval.url,
        '--function-name',
        'consumer',
      ]);
      expect(listed.code).toBe(0);
      const mappings = JSON.parse(listed.stdout).EventSourceMappings as Array<{
        EventSourceArn: string;
        State: string;
      }>;
      // The mapping of queue b was created disabled by the first test.
      expect(mappings.find((m) => m.EventSourceArn === queues[1]!.url)?.State).toBe('Disabled');
    },
  );
});
