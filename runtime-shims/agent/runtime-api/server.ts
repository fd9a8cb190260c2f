// The Runtime API (2018-06-01) on loopback: one route table, one handler per endpoint, state checked first.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createListener, type Server as Listener } from 'node:net';
import type { Duplex } from 'node:stream';
import type { InvocationRequest } from '../../../apis/environment-link.ts';
import { readCappedBody } from './body.ts';
import { ConcurrentInvocations } from './concurrent-invocations.ts';
import { nextHeaders } from './next-headers.ts';
import { accepted, errorReply, invalidRequestId } from './replies.ts';
import { RuntimeStateMachine, StateTransitionError } from './state.ts';
import {
  declaresStreamedUpload,
  isStreamedResponseHead,
  MAX_STREAMED_BYTES,
  type ResponseRelay,
  relayStreamedBody,
} from './streamed-body.ts';
import { claimStreamedUpload, type StreamedUpload, tapConnection } from './upload-tap.ts';

// Not `import { createServer } from 'node:http'`: that ES module namespace reads http's lazy WebSocket getters,
// which load undici (and http2, tls): some 60-90 ms of the agent's start-up CPU (ADR-55).
const { createServer } = process.getBuiltinModule('node:http');

/** The RIE's buffered payload cap: 6 MiB + 100 bytes (reference §1.5). */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 + 100;
const BASE = '/2018-06-01';

/** After a streamed response the body is empty (it went out through the relay) or the error payload. */
export type RuntimeOutcome =
  | { kind: 'response'; body: Buffer; contentType: string | undefined }
  | { kind: 'error'; errorType: string | undefined; body: Buffer; contentType: string | undefined };

/** What the environment learns from its runtime through the API. */
export interface RuntimeApiListener {
  initComplete(): void;
  initError(errorType: string | undefined, body: Buffer, contentType: string | undefined): void;
  /** The runtime took the invocation; returns its absolute deadline in epoch ms. */
  delivered(requestId: string): number;
  outcome(requestId: string, outcome: RuntimeOutcome): void;
  /** Where the active invocation's streamed response goes. */
  responseStream(requestId: string): ResponseRelay;
}

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  upload: StreamedUpload | undefined,
) => void | Promise<void>;

export class RuntimeApiServer {
  private readonly server: Server;
  /** Accepts the runtime's connections and taps each (upload-tap.ts) before `server` parses it. */
  private readonly acceptor: Listener;
  /** The tapped connections (the accepted sockets' handles are theirs now). */
  private readonly connections = new Set<Duplex>();
  private readonly listener: RuntimeApiListener;
  private machine = new RuntimeStateMachine();
  private waitingNext: ServerResponse | undefined;
  private queued: { request: InvocationRequest; body: Buffer } | undefined;
  private readonly routes: Array<[string, RegExp, Handler]>;
  /** Set for a multi-concurrency environment: several workers poll /next at once (replaces `machine`). */
  private readonly concurrent: ConcurrentInvocations | undefined;

  /** Lambda's 200 MB for a streamed response; smaller only where a test needs to cross it cheaply. */
  private readonly maxStreamedBytes: number;

  constructor(
    listener: RuntimeApiListener,
    limits: { maxStreamedBytes?: number; concurrent?: boolean } = {},
  ) {
    this.listener = listener;
    this.maxStreamedBytes = limits.maxStreamedBytes ?? MAX_STREAMED_BYTES;
    this.concurrent = limits.concurrent
      ? new ConcurrentInvocations((res, request, body) => this.send(res, request, body))
      : undefined;
    this.routes = [
      ['GET', /^\/runtime\/invocation\/next$/, (q, s) => this.next(q, s)],
      ['POST', /^\/runtime\/invocation\/([^/]+)\/response$/, (q, s, id, u) => this.response(q, s, id, u)],
      ['POST', /^\/runtime\/invocation\/([^/]+)\/error$/, (q, s, id) => this.invocationError(q, s, id)],
      ['POST', /^\/runtime\/init\/error$/, (q, s) => this.initError(q, s)],
    ];
    this.server = createServer((req, res) => this.route(req, res));
    this.server.keepAliveTimeout = 0; // the runtime's /next may wait for minutes between invocations
    this.server.requestTimeout = 0;
    this.acceptor = createListener({ pauseOnConnect: true, allowHalfOpen: true }, (accepted) => {
      const connection = tapConnection(accepted, isStreamedResponseHead);
      this.connections.add(connection);
      connection.once('close', () => this.connections.delete(connection));
      this.server.emit('connection', connection);
    });
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.acceptor.once('error', reject);
      this.acceptor.listen(port, host, () => resolve());
    });
    return (this.acceptor.address() as AddressInfo).port;
  }

  /**
   * For an API no runtime polls (in-process mode's AWS_LAMBDA_RUNTIME_API): it answers as agent mode's does
   * to a handler that calls it mid-invocation (/next and /init/error refused, any request id unknown), and
   * lets the event loop drain while it listens. Without this a /next from a handler waited for ever.
   */
  standIn(): void {
    this.machine.state = 'Running';
    this.acceptor.unref();
  }

  close(): void {
    this.server.closeAllConnections();
    for (const connection of this.connections) connection.destroy();
    this.acceptor.close();
  }

  /** A new runtime process starts from `Started`; whatever the old one left is dropped. */
  resetForNewRuntime(): void {
    this.machine = new RuntimeStateMachine();
    this.waitingNext = undefined;
    this.queued = undefined;
    this.concurrent?.reset();
  }

  /** Hands an invocation to the runtime now if it waits on /next, else on its next /next. */
  enqueue(request: InvocationRequest, body: Buffer): void {
    if (this.concurrent) {
      this.concurrent.enqueue(request, body);
      return;
    }
    this.queued = { request, body };
    if (this.waitingNext && this.machine.state === 'Ready') this.deliver(this.waitingNext);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    // The tap holds a streamed /response's body for its handler; whatever answers without reading it has
    // it dropped, so the connection reads on.
    const upload =
      req.headers['transfer-encoding'] !== undefined
        ? claimStreamedUpload(req.socket, req.method, req.url)
        : undefined;
    const handling = this.dispatch(req, res, upload);
    if (handling) void handling.finally(() => upload?.discard());
    else upload?.discard();
  }

  /** Answers the request, or starts its handler and returns its promise. */
  private dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    upload: StreamedUpload | undefined,
  ): Promise<void> | undefined {
    const url = req.url ?? '';
    const path = url.startsWith(BASE) ? url.slice(BASE.length).split('?')[0]! : '';
    if (url === '/ping' || url === `${BASE}/ping`) {
      res.end('pong');
      return;
    }
    for (const [method, pattern, handler] of this.routes) {
      const match = pattern.exec(path);
      if (!match) continue;
      if (req.method !== method) {
        errorReply(res, 405, 'MethodNotAllowed', 'Method not allowed');
        return;
      }
      const requestId = decodeRequestId(match[1] ?? '');
      // A request id that is not even valid percent-encoding cannot be the active one.
      if (requestId === undefined) {
        invalidRequestId(res);
        return;
      }
      // new Promise catches a handler's synchronous throw as well: one request never ends the agent.
      return new Promise<void>((resolve) => resolve(handler(req, res, requestId, upload))).catch(
        (err: unknown) => {
          if (!res.headersSent) errorReply(res, 500, 'InternalServerError', 'Internal Server Error');
          else res.destroy();
          process.stderr.write(`serval-agent: runtime API handler failed: ${String(err)}\n`);
        },
      );
    }
    errorReply(res, 404, 'NotFound', `No such Runtime API endpoint: ${req.method} ${printable(url)}`);
  }

  private next(_req: IncomingMessage, res: ServerResponse): void {
    if (this.concurrent) {
      const polled = this.concurrent.poll(res);
      if (polled instanceof StateTransitionError)
        errorReply(res, 403, 'InvalidStateTransition', polled.message);
      else if (polled.first) this.listener.initComplete();
      return;
    }
    const from = this.machine.state;
    if (!this.tryTransition(res, 'Ready')) return;
    if (from === 'Started') this.listener.initComplete();
    this.waitingNext = res;
    res.on('close', () => {
      if (this.waitingNext === res) this.waitingNext = undefined;
    });
    if (this.queued) this.deliver(res);
  }

  private deliver(res: ServerResponse): void {
    const { request, body } = this.queued!;
    this.queued = undefined;
    this.waitingNext = undefined;
    this.machine.transition('Running');
    this.machine.current = { request, body, deadlineMs: this.send(res, request, body) };
  }

  /** Writes one invocation as the answer to a /next; returns the deadline it carried. */
  private send(res: ServerResponse, request: InvocationRequest, body: Buffer): number {
    const deadlineMs = this.listener.delivered(request.requestId);
    const headers = nextHeaders(request, body.length, deadlineMs);
    res.writeHead(200, headers);
    res.end(body);
    return deadlineMs;
  }

  private async response(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    upload: StreamedUpload | undefined,
  ): Promise<void> {
    if (!this.startAnswer(res, requestId, 'InvocationResponse')) return;
    const mode = header(req, 'lambda-runtime-function-response-mode');
    if (mode !== undefined && mode !== 'streaming') {
      this.finish(requestId, 'InvocationResponse', {
        kind: 'error',
        errorType: 'Runtime.InvalidResponseModeHeader',
        body: Buffer.alloc(0),
        contentType: undefined,
      });
      return errorReply(res, 400, 'InvalidFunctionResponseMode', 'Invalid function response mode');
    }
    if (!this.concurrent) this.machine.transition('InvocationResponse');
    if (upload || isStreamedUpload(req)) return this.streamedResponse(req, res, requestId, upload);
    const read = await readCappedBody(req, MAX_PAYLOAD_BYTES);
    if (read.kind === 'too-large') {
      this.complete(requestId, tooLarge(read.size, MAX_PAYLOAD_BYTES));
      return errorReply(
        res,
        413,
        'RequestEntityTooLarge',
        `Exceeded maximum allowed payload size (${MAX_PAYLOAD_BYTES} bytes).`,
      );
    }
    if (read.kind === 'truncated') {
      this.complete(requestId, truncated());
      return errorReply(res, 400, 'TruncatedHTTPRequest', 'HTTP request detected as truncated');
    }
    this.complete(requestId, { kind: 'response', body: read.body, contentType: header(req, 'content-type') });
    accepted(res);
  }

  /** Streaming mode: chunks are relayed as they arrive; an error part-way comes in trailers (§1.3). */
  private async streamedResponse(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    upload: StreamedUpload | undefined,
  ): Promise<void> {
    const relay = this.listener.responseStream(requestId);
    const read = await relayStreamedBody(req, relay, this.maxStreamedBytes, upload);
    if (read.kind === 'too-large') {
      this.complete(requestId, tooLarge(read.bytes, this.maxStreamedBytes));
      // The runtime may still be uploading: answer, then close the connection rather than read on.
      res.setHeader('Connection', 'close');
      res.on('finish', () => req.destroy());
      return errorReply(
        res,
        413,
        'RequestEntityTooLarge',
        `Exceeded maximum allowed payload size (${this.maxStreamedBytes} bytes).`,
      );
    }
    if (read.kind === 'truncated') {
      this.complete(requestId, truncated());
      return errorReply(res, 400, 'TruncatedHTTPRequest', 'HTTP request detected as truncated');
    }
    this.complete(
      requestId,
      read.errorType
        ? {
            kind: 'error',
            errorType: read.errorType,
            body: read.errorBody,
            contentType: 'application/json',
          }
        : { kind: 'response', body: Buffer.alloc(0), contentType: undefined },
    );
    accepted(res);
  }

  private async invocationError(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    if (!this.startAnswer(res, requestId, 'InvocationErrorResponse')) return;
    if (!this.concurrent) this.machine.transition('InvocationErrorResponse');
    const read = await readCappedBody(req, MAX_PAYLOAD_BYTES);
    const body = read.kind === 'ok' ? read.body : Buffer.alloc(0);
    this.complete(requestId, {
      kind: 'error',
      errorType: header(req, 'lambda-runtime-function-error-type'),
      body,
      contentType: header(req, 'content-type'),
    });
    accepted(res);
  }

  private async initError(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = this.concurrent?.initError();
    if (refused) return errorReply(res, 403, 'InvalidStateTransition', refused.message);
    if (!this.concurrent && !this.tryTransition(res, 'InitError')) return;
    const read = await readCappedBody(req, MAX_PAYLOAD_BYTES);
    const body = read.kind === 'ok' ? read.body : Buffer.alloc(0);
    accepted(res);
    this.listener.initError(
      header(req, 'lambda-runtime-function-error-type'),
      body,
      header(req, 'content-type'),
    );
  }

  private finish(requestId: string, via: 'InvocationResponse', outcome: RuntimeOutcome): void {
    if (!this.concurrent) this.machine.transition(via);
    this.complete(requestId, outcome);
  }

  private complete(requestId: string, outcome: RuntimeOutcome): void {
    if (this.concurrent) this.concurrent.complete(requestId);
    else {
      this.machine.transition('ResponseSent');
      this.machine.current = undefined;
    }
    this.listener.outcome(requestId, outcome);
  }

  /** Checked before any state change: the runtime may answer now, and `requestId` is one it was given. */
  private startAnswer(
    res: ServerResponse,
    requestId: string,
    to: 'InvocationResponse' | 'InvocationErrorResponse',
  ): boolean {
    if (!this.concurrent) {
      if (!this.canTransition(res, to)) return false;
      if (this.machine.isActive(requestId)) return true;
      invalidRequestId(res);
      return false;
    }
    const refused = this.concurrent.answer(requestId, to);
    if (refused === undefined) return true;
    if (refused === 'invalid-request-id') invalidRequestId(res);
    else errorReply(res, 403, 'InvalidStateTransition', refused.message);
    return false;
  }

  private canTransition(res: ServerResponse, to: 'InvocationResponse' | 'InvocationErrorResponse'): boolean {
    if (this.machine.state === 'Running') return true;
    const err = new StateTransitionError(this.machine.state, to);
    errorReply(res, 403, 'InvalidStateTransition', err.message);
    return false;
  }

  private tryTransition(res: ServerResponse, to: 'Ready' | 'InitError'): boolean {
    try {
      this.machine.transition(to);
      return true;
    } catch (err) {
      if (!(err instanceof StateTransitionError)) throw err;
      errorReply(res, 403, 'InvalidStateTransition', err.message);
      return false;
    }
  }
}

function truncated(): RuntimeOutcome {
  return {
    kind: 'error',
    errorType: 'Runtime.TruncatedResponse',
    body: Buffer.alloc(0),
    contentType: undefined,
  };
}

/** Lambda's answer to a response over the payload limit; the in-process runtime gives the same one. */
export function tooLarge(size: number, limit: number): RuntimeOutcome {
  const body = Buffer.from(
    JSON.stringify({
      errorMessage: `Response payload size (${size} bytes) exceeded maximum allowed payload size (${limit} bytes).`,
      errorType: 'Function.ResponseSizeTooLarge',
    }),
  );
  return { kind: 'error', errorType: 'Function.ResponseSizeTooLarge', body, contentType: 'application/json' };
}

/** Streaming mode by the request's headers (streamed-body.ts says how); the tap decides the same way. */
function isStreamedUpload(req: IncomingMessage): boolean {
  return declaresStreamedUpload((name) => header(req, name));
}

function decodeRequestId(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 256);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
