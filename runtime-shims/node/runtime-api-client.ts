// HTTP client for the Lambda Runtime API (2018-06-01): /next, /response, /error, /init/error and streamed responses.
import type { IncomingHttpHeaders } from 'node:http';
import { toErrorResponse, toHeaderValue } from './errors.ts';

// Not `import ... from 'node:http'`: building that ES module namespace touches http's lazy WebSocket getters,
// which loads undici and costs ~25 ms of cold start. The CommonJS module object is ready in ~4 ms.
const { Agent, request } = process.getBuiltinModule('node:http');

const BASE = '/2018-06-01/runtime';
const ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';

export interface Invocation {
  /** Lower-cased by node:http, as the official client also lower-cases them. */
  headers: IncomingHttpHeaders;
  /** The raw event payload. */
  body: string;
}

export interface ApiReply {
  status: number;
  body: string;
}

/** `/next` answered with something other than an invocation. */
export class RuntimeApiError extends Error {}

export interface ResponseStreamRequest {
  request: StreamUpload;
  /** Settles once the Runtime API has answered the streamed POST. */
  replied: Promise<ApiReply>;
}

/** What a streamed response is written to: the chunked POST's ClientRequest, or an in-process upload. */
export interface StreamUpload {
  setHeader(name: string, value: string): unknown;
  write(
    chunk: string | Uint8Array,
    encoding?: BufferEncoding,
    callback?: (error?: Error | null) => void,
  ): boolean;
  end(callback?: () => void): unknown;
  addTrailers(trailers: Record<string, string>): void;
  destroy(): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
}

/**
 * How the runtime takes invocations and answers them: over the Runtime API (RuntimeApiClient), or handed
 * in directly by the environment it runs in (in-process mode, runtime-shims/node/in-process/).
 */
export interface RuntimeClient {
  next(): Promise<Invocation>;
  postResponse(requestId: string, body: string): Promise<ApiReply>;
  postError(requestId: string, error: unknown): Promise<ApiReply>;
  postInitError(error: unknown): Promise<ApiReply>;
  openResponseStream(requestId: string): ResponseStreamRequest;
}

export class RuntimeApiClient implements RuntimeClient {
  private readonly hostname: string;
  private readonly port: number;
  // Keep-alive reuses one connection for every call. Node unrefs idle pooled sockets, so between our calls the
  // connection never holds the event loop open, which `callbackWaitsForEmptyEventLoop` depends on.
  private readonly agent = new Agent({ keepAlive: true });

  constructor(address: string) {
    const colon = address.lastIndexOf(':');
    this.hostname = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(address.slice(colon + 1));
  }

  /** Long-polls for the next invocation. No timeout: the environment may sit idle (or frozen) for a long time. */
  async next(): Promise<Invocation> {
    const reply = await this.send('GET', `${BASE}/invocation/next`, {});
    if (reply.status !== 200) {
      throw new RuntimeApiError(`Runtime API /next returned ${reply.status}: ${reply.body.toString()}`);
    }
    return { headers: reply.headers, body: reply.body.toString('utf8') };
  }

  /** Posts a buffered result; `body` is already serialised JSON. */
  async postResponse(requestId: string, body: string): Promise<ApiReply> {
    return this.reply(
      await this.send('POST', `${BASE}/invocation/${encodeURIComponent(requestId)}/response`, {}, body),
    );
  }

  async postError(requestId: string, error: unknown): Promise<ApiReply> {
    return this.postErrorTo(`${BASE}/invocation/${encodeURIComponent(requestId)}/error`, error);
  }

  async postInitError(error: unknown): Promise<ApiReply> {
    return this.postErrorTo(`${BASE}/init/error`, error);
  }

  /**
   * Opens a chunked POST to `/response` for a streaming handler (reference §1.3). Headers go out with the first
   * write, so the content type may still change until then; errors are reported in trailers.
   */
  openResponseStream(requestId: string): ResponseStreamRequest {
    const req = request({
      hostname: this.hostname,
      port: this.port,
      method: 'POST',
      path: `${BASE}/invocation/${encodeURIComponent(requestId)}/response`,
      agent: this.agent,
      headers: {
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        Trailer: `${ERROR_TYPE}, Lambda-Runtime-Function-Error-Body`,
        'Content-Type': 'application/octet-stream',
      },
    });
    const replied = new Promise<ApiReply>((resolve, reject) => {
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    return { request: req, replied };
  }

  private async postErrorTo(path: string, error: unknown): Promise<ApiReply> {
    const response = toErrorResponse(error);
    const headers = { [ERROR_TYPE]: toHeaderValue(response.errorType) };
    return this.reply(await this.send('POST', path, headers, JSON.stringify(response)));
  }

  private reply(raw: RawReply): ApiReply {
    return { status: raw.status, body: raw.body.toString() };
  }

  private send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      const attempt = (retry: boolean): void => {
        const req = request(
          {
            hostname: this.hostname,
            port: this.port,
            method,
            path,
            agent: this.agent,
            headers:
              body === undefined
                ? headers
                : {
                    'Content-Type': 'application/json',
                    'Content-Length': Buffer.byteLength(body),
                    ...headers,
                  },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => {
          // A pooled connection the server closed while idle fails on reuse before the request reached it.
          if (retry && req.reusedSocket && err.code === 'ECONNRESET') attempt(false);
          else reject(err);
        });
        req.end(body);
      };
      attempt(true);
    });
  }
}

interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
