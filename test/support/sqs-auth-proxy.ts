// ElasticMQ accepts any credentials, so tests of a mapping's SQS keys put this in front of it: it checks each
// request's SigV4 signature (apis/sigv4.ts, the gateway's own verifier's maths) against the keys it knows and
// answers a wrong one as SQS does (403, InvalidClientTokenId or SignatureDoesNotMatch); signed requests go on
// to the real server unchanged. It records which access key IDs it saw, and whether a session token came.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { canonicalRequest, sha256Hex, signature } from '../../apis/sigv4.ts';

export interface SqsAuthProxy {
  /** The proxy's origin: queue URLs of the real server with this origin go through it. */
  endpoint: string;
  /** Access keys it accepts, id → secret; tests change it to rotate keys. */
  keys: Map<string, string>;
  /** The requests it passed on, in order: their key, session token and (JSON protocol) queue URL. */
  accepted: Array<{ accessKeyId: string; sessionToken: string | undefined; queueUrl: string | undefined }>;
  /** Requests it refused, by error code. */
  refused: string[];
  /** `url` (a queue URL of the real server) as seen through the proxy. */
  via(url: string): string;
  close(): Promise<void>;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

export async function startSqsAuthProxy(
  upstream: string,
  keys: Record<string, string>,
): Promise<SqsAuthProxy> {
  const known = new Map(Object.entries(keys));
  const accepted: SqsAuthProxy['accepted'] = [];
  const refused: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const problem = check(req, body, known);
    if (problem) {
      refused.push(problem);
      res.writeHead(403, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': `${problem};Sender`,
      });
      res.end(
        JSON.stringify({ __type: `com.amazonaws.sqs#${problem}`, message: 'refused by the test proxy' }),
      );
      return;
    }
    accepted.push({
      accessKeyId: AUTH.exec(String(req.headers.authorization))![1]!,
      sessionToken: req.headers['x-amz-security-token'] as string | undefined,
      queueUrl: queueUrlOf(body),
    });
    try {
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          ([k]) => k !== 'host' && k !== 'connection' && k !== 'content-length',
        ),
      ) as Record<string, string>;
      const answer = await fetch(`${upstream}${req.url}`, {
        method: req.method,
        headers,
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: new Uint8Array(body) }),
      });
      const out = Buffer.from(await answer.arrayBuffer());
      res.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/octet-stream',
        ...(answer.headers.get('x-amzn-query-error')
          ? { 'x-amzn-query-error': answer.headers.get('x-amzn-query-error')! }
          : {}),
      });
      res.end(out);
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    keys: known,
    accepted,
    refused,
    via: (url) => `${endpoint}${new URL(url).pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Undefined when the signature is right for a known key; otherwise SQS's error code for what is wrong. */
function check(req: IncomingMessage, body: Buffer, keys: Map<string, string>): string | undefined {
  const m = AUTH.exec(String(req.headers.authorization ?? ''));
  if (!m) return 'MissingAuthenticationToken';
  const [, accessKeyId, date, region, service, signedHeaders, sent] = m;
  const secret = keys.get(accessKeyId!);
  if (secret === undefined) return 'InvalidClientTokenId';
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const canonical = canonicalRequest(
    { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headersDistinct },
    signedHeaders!.split(';'),
    sha256Hex(body),
  );
  const scope = { date: date!, region: region!, service: service! };
  return signature(secret, amzDate, scope, canonical) === sent ? undefined : 'SignatureDoesNotMatch';
}

function queueUrlOf(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString()) as { QueueUrl?: string }).QueueUrl;
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
