// The SQS client for one mapping's queue: the endpoint is the queue URL's origin (AWS or any SQS-compatible
// server), the region AWS's from the host name or the gateway's, and credentials the runtime resolved.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Credentials } from '../source-kind.ts';

export interface QueueInfo {
  url: string;
  arn: string;
  region: string;
  fifo: boolean;
  visibilityTimeoutSeconds: number;
}

/** `https://sqs.eu-west-1.amazonaws.com/123/q` → eu-west-1; anything else is in the gateway's region. */
export function queueRegion(queueUrl: string, fallback: string): string {
  return /^sqs\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(queueUrl).hostname)?.[1] ?? fallback;
}

/** Lambda's eventSourceARN: `arn:aws:sqs:<region>:<account>:<queue>`, account and name from the URL path. */
export function queueArn(queueUrl: string, region: string): string {
  const [account = '000000000000', name = ''] = new URL(queueUrl).pathname.split('/').filter(Boolean);
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

/** `onRequest` hears of every API call by its operation name (`ReceiveMessage`, …), for the request metric. */
export function sqsClient(
  queueUrl: string,
  region: string,
  credentials: Credentials,
  onRequest?: (operation: string) => void,
): SQSClient {
  const keys =
    credentials.accessKeyId && credentials.secretAccessKey
      ? {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
        }
      : undefined;
  // Kept-alive sockets without the SDK's cap of 50: every loop may hold a long poll and a delete at once,
  // and a delete queued behind 20 s long polls would stall its loop. The loops bound the sockets.
  const agent = { keepAlive: true, maxSockets: Number.POSITIVE_INFINITY };
  const client = new SQSClient({
    endpoint: new URL(queueUrl).origin,
    region,
    ...(keys ? { credentials: keys } : {}),
    // The runtime owns retries and backoff; the SDK's own would hide a lost broker for seconds.
    maxAttempts: 1,
    requestHandler: { httpAgent: new HttpAgent(agent), httpsAgent: new HttpsAgent(agent) },
  });
  if (onRequest) {
    client.middlewareStack.add(
      (next, context) => (args) => {
        onRequest(String(context.commandName ?? 'unknown').replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize', name: 'servalBrokerRequests' },
    );
  }
  return client;
}

/** Checks the queue exists and reads what settling needs (FIFO, visibility timeout). */
export async function describeQueue(client: SQSClient, queueUrl: string, region: string): Promise<QueueInfo> {
  const { Attributes: a = {} } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['QueueArn', 'VisibilityTimeout', 'FifoQueue'],
    }),
  );
  return {
    url: queueUrl,
    arn: a.QueueArn ?? queueArn(queueUrl, region),
    region,
    fifo: a.FifoQueue === 'true' || queueUrl.endsWith('.fifo'),
    visibilityTimeoutSeconds: Number(a.VisibilityTimeout ?? 30),
  };
}
