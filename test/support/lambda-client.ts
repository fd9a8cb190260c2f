// The unmodified AWS SDK v3 Lambda client pointed at a test gateway, and a reader for its response streams.
import { type InvokeWithResponseStreamCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';

export function servalLambdaClient(url: string): LambdaClient {
  return new LambdaClient({
    endpoint: url,
    region: 'local',
    credentials: { accessKeyId: 'serval', secretAccessKey: 'serval' },
    maxAttempts: 1,
  });
}

/** Reads an InvokeWithResponseStream answer to its end, as the SDK hands it over. */
export async function readResponseStream(out: InvokeWithResponseStreamCommandOutput) {
  let body = '';
  let complete: { ErrorCode?: string; ErrorDetails?: string; LogResult?: string } | undefined;
  for await (const event of out.EventStream!) {
    if (event.PayloadChunk?.Payload) body += Buffer.from(event.PayloadChunk.Payload).toString();
    if (event.InvokeComplete) complete = event.InvokeComplete;
  }
  return { body, complete };
}
