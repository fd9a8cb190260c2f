// The SQS source kind (standard and FIFO queues): the hot calls through SqsApi (sqs-api.ts), the cold ones
// and credential resolution through the AWS SDK v3 client.

import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_BATCHING } from '../../../../apis/event-source-mapping.ts';
import { recordsPayload } from '../record-json.ts';
import type { SourceKind, SourcePoller } from '../source-kind.ts';
import { describeQueue, type QueueInfo, queueArn, queueRegion, sqsClient } from './connection.ts';
import type { SqsRecord } from './event.ts';
import { receiveSqs, SQS_MAX_PER_RECEIVE } from './receive.ts';
import { rejectedKeys } from './rejected-keys.ts';
import { extendSqs, settleSqs } from './settle.ts';
import { SqsApi } from './sqs-api.ts';

export const sqsKind: SourceKind<SqsRecord> = {
  kind: 'sqs',
  dataKey: 'body',
  defaults: DEFAULT_BATCHING.sqs,
  maxPerReceive: SQS_MAX_PER_RECEIVE,
  // FIFO records carry their MessageGroupId; standard ones have no group and run freely.
  ordering: 'per-group',
  sourceArn(spec, region) {
    const url = spec.source.sqs!.queueUrl;
    return queueArn(url, queueRegion(url, region));
  },
  open(context): SourcePoller<SqsRecord> {
    const url = context.spec.source.sqs!.queueUrl;
    const region = queueRegion(url, context.region);
    let client: SQSClient | undefined;
    let api: SqsApi | undefined;
    let queue: QueueInfo | undefined;
    const connected = () => {
      if (!client || !api || !queue) throw new Error('not connected');
      return { client, api, queue };
    };
    const release = () => {
      client?.destroy();
      api?.destroy();
      client = undefined;
      api = undefined;
    };
    return {
      async connect() {
        release();
        client = sqsClient(url, region, await context.credentials(), context.brokerRequest);
        const sdk = client;
        api = new SqsApi({
          endpoint: new URL(url).origin,
          region,
          // The SDK's provider: the keys given, else its chain (environment, profile, web identity, …).
          identity: () => sdk.config.credentials(),
          onRequest: context.brokerRequest,
        });
        try {
          queue = await describeQueue(client, url, region);
        } catch (err) {
          throw rejectedKeys(err, context.spec, context.namespace);
        }
      },
      receive(max, waitMs, signal) {
        const c = connected();
        // Keys rotated to wrong ones while connected are a credentials problem from the first refusal.
        return receiveSqs(c.api, c.queue, max, waitMs, signal).catch((err: unknown) => {
          throw rejectedKeys(err, context.spec, context.namespace);
        });
      },
      buildEvent: (records) => ({ Records: records.map((r) => r.event) }),
      eventPayload: recordsPayload,
      async settle(records, outcome) {
        const c = connected();
        await settleSqs(c.api, c.queue, records, outcome);
        return undefined;
      },
      leaseMs: () => connected().queue.visibilityTimeoutSeconds * 1000,
      async extendLease(records) {
        const c = connected();
        await extendSqs(c.api, c.queue, records);
      },
      async backlog() {
        const c = connected();
        const { Attributes: a = {} } = await c.client.send(
          new GetQueueAttributesCommand({
            QueueUrl: c.queue.url,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        );
        return { messages: Number(a.ApproximateNumberOfMessages ?? 0) };
      },
      async close() {
        release();
      },
    };
  },
};
