// SQS's JSON protocol for the mapping's hot calls (ReceiveMessage, DeleteMessageBatch,
// ChangeMessageVisibilityBatch), spoken directly: one POST per call over kept-alive sockets, signed with
// SigV4 by apis/sigv4.ts. The AWS SDK spent about a quarter of the gateway's CPU per message building,
// serializing and signing these through its middleware stack (docs/benchmarks.md); it still resolves the
// credentials (so its whole provider chain works) and makes the cold calls (connection.ts).

import type { KeyObject } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type Scope, signingKey, signRequest } from '../../../../apis/sigv4.ts';

const CONTENT_TYPE = 'application/x-amz-json-1.0';

/** What the SDK's credential provider resolves to. */
export interface AwsIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** An error SQS answered with: `name` is its code (`AWS.SimpleQueueService.NonExistentQueue`, …), as the SDK's. */
export class SqsApiError extends Error {
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(message || code);
    this.name = code;
    this.status = status;
  }
}

export class SqsApi {
  private readonly origin: URL;
  /** Every call is a POST to the endpoint's root (SQS's JSON protocol names the operation in a header). */
  private readonly url: string;
  private readonly region: string;
  private readonly identity: () => Promise<AwsIdentity | undefined>;
  private readonly onRequest: ((operation: string) => void) | undefined;
  private readonly agent: HttpAgent;
  private keyCache: { secret: string; date: string; key: KeyObject } | undefined;

  constructor(options: {
    endpoint: string;
    region: string;
    identity: () => Promise<AwsIdentity | undefined>;
    onRequest?: ((operation: string) => void) | undefined;
  }) {
    this.origin = new URL(options.endpoint);
    this.url = `${this.origin.origin}/`;
    this.region = options.region;
    this.identity = options.identity;
    this.onRequest = options.onRequest;
    // Kept-alive sockets without a cap: every loop may hold a long poll and a delete at once, and a delete
    // queued behind 20 s long polls would stall its loop. The loops bound the sockets.
    const agentOptions = { keepAlive: true, maxSockets: Number.POSITIVE_INFINITY };
    this.agent =
      this.origin.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  /** One call of `operation` (e.g. `ReceiveMessage`) with its JSON input; resolves its JSON output. */
  async call<T>(operation: string, input: unknown, signal?: AbortSignal): Promise<T> {
    this.onRequest?.(operation);
    const body = JSON.stringify(input);
    const headers = await this.sign(operation, body);
    const response = await this.send(headers, body, signal);
    const text = response.body.toString('utf8');
    if (response.status >= 300) throw errorOf(response.status, response.headers, text);
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  destroy(): void {
    this.agent.destroy();
  }

  private async sign(operation: string, body: string): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPE,
      host: this.origin.host,
      'x-amz-target': `AmazonSQS.${operation}`,
    };
    const identity = await this.identity();
    if (!identity) return headers;
    if (identity.sessionToken) headers['x-amz-security-token'] = identity.sessionToken;
    return signRequest(identity, { method: 'POST', url: this.url, headers, body }, this.region, new Date(), {
      service: 'sqs',
      key: (secret, scope) => this.keyFor(secret, scope),
    });
  }

  /** The signing key changes once a day per secret; four HMACs a call saved. */
  private keyFor(secret: string, scope: Scope): KeyObject {
    const cached = this.keyCache;
    if (cached && cached.secret === secret && cached.date === scope.date) return cached.key;
    const key = signingKey(secret, scope);
    this.keyCache = { secret, date: scope.date, key };
    return key;
  }

  private send(
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const request = (this.origin.protocol === 'https:' ? httpsRequest : httpRequest)({
        protocol: this.origin.protocol,
        hostname: this.origin.hostname,
        port: this.origin.port,
        path: '/',
        method: 'POST',
        agent: this.agent,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      });
      const onAbort = () =>
        request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      request.once('error', (err) => {
        done();
        reject(err);
      });
      request.once('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.once('error', (err) => {
          done();
          reject(err);
        });
        response.once('end', () => {
          done();
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          });
        });
      });
      request.end(body);
    });
  }
}

/**
 * The error's code as the SDK names it: the query-compatible code SQS sends in `x-amzn-query-error`
 * (`AWS.SimpleQueueService.NonExistentQueue;Sender`), else the JSON `__type` after its namespace.
 */
function errorOf(status: number, headers: IncomingMessage['headers'], text: string): SqsApiError {
  let parsed: { __type?: string; message?: string; Message?: string } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  const query = String(headers['x-amzn-query-error'] ?? '').split(';')[0];
  const type = (parsed.__type ?? String(headers['x-amzn-errortype'] ?? '')).split('#').pop()?.split(':')[0];
  const code = query || type || `HTTP${status}`;
  return new SqsApiError(code, parsed.message ?? parsed.Message ?? '', status);
}
