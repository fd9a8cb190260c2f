// The runtime's RuntimeClient in in-process mode: invocations are handed over by the environment in the same
// process, and answers go straight back to it, in the Runtime API's terms (RuntimeOutcome), with the same
// payload limits. While a poller waits for an invocation, or a streamed response is open, the link's socket
// holds the process up (as a pending /next or the streamed POST's socket does); otherwise it does not, so
// "wait for an empty event loop" sees only the function's own work.
import type { IncomingHttpHeaders } from 'node:http';
import type { InvocationRequest } from '../../../apis/environment-link.ts';
import { nextHeaders } from '../../agent/runtime-api/next-headers.ts';
import { MAX_PAYLOAD_BYTES, type RuntimeOutcome, tooLarge } from '../../agent/runtime-api/server.ts';
import { MAX_STREAMED_BYTES } from '../../agent/runtime-api/streamed-body.ts';
import { StreamRelay } from '../../agent/stream-relay.ts';
import { toErrorResponse, toHeaderValue } from '../errors.ts';
import type { ApiReply, Invocation, ResponseStreamRequest, RuntimeClient } from '../runtime-api-client.ts';
import { InProcessUpload, type UploadEnd } from './upload.ts';

/** What the client tells its environment. */
export interface ClientListener {
  /** The runtime asked for its first invocation: init is over. */
  initComplete(): void;
  initError(errorType: string, body: Buffer): void;
  outcome(requestId: string, outcome: RuntimeOutcome): void;
  relayOf(requestId: string): StreamRelay | undefined;
  /** Whether a poller waits or a streamed response is open: the link keeps the process alive only then. */
  keepAlive(alive: boolean): void;
}

const ACCEPTED: ApiReply = { status: 202, body: '{"status":"OK"}' };

export class InProcessClient implements RuntimeClient {
  private readonly listener: ClientListener;
  private readonly queued: Invocation[] = [];
  private readonly waiting: Array<(invocation: Invocation) => void> = [];
  private initialised = false;
  private openUploads = 0;
  private alive = false;
  /** Handed out and not yet answered, by request id: an answer for any other is refused, as by the API. */
  private readonly running = new Set<string>();

  constructor(listener: ClientListener) {
    this.listener = listener;
  }

  /** Hands an invocation to a waiting poller, or to the next one to ask. */
  deliver(request: InvocationRequest, body: Buffer, deadlineMs: number): void {
    const invocation = { headers: invokeHeaders(request, body, deadlineMs), body: body.toString('utf8') };
    this.running.add(request.requestId);
    const poller = this.waiting.shift();
    if (poller) {
      this.holdProcess();
      poller(invocation);
    } else this.queued.push(invocation);
  }

  /** An invocation the environment ended itself (its timeout): a late answer is refused. */
  forget(requestId: string): void {
    this.running.delete(requestId);
  }

  next(): Promise<Invocation> {
    if (!this.initialised) {
      this.initialised = true;
      this.listener.initComplete();
    }
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.holdProcess();
    });
  }

  postResponse(requestId: string, body: string): Promise<ApiReply> {
    if (!this.running.delete(requestId)) return invalidRequestId();
    const bytes = Buffer.from(body);
    if (bytes.length > MAX_PAYLOAD_BYTES) {
      this.listener.outcome(requestId, tooLarge(bytes.length, MAX_PAYLOAD_BYTES));
      return replied({ status: 413, body: '' });
    }
    this.listener.outcome(requestId, { kind: 'response', body: bytes, contentType: 'application/json' });
    return replied(ACCEPTED);
  }

  postError(requestId: string, error: unknown): Promise<ApiReply> {
    if (!this.running.delete(requestId)) return invalidRequestId();
    const response = toErrorResponse(error);
    let body = Buffer.from(JSON.stringify(response));
    if (body.length > MAX_PAYLOAD_BYTES) body = Buffer.alloc(0);
    this.listener.outcome(requestId, {
      kind: 'error',
      errorType: toHeaderValue(response.errorType),
      body,
      contentType: 'application/json',
    });
    return replied(ACCEPTED);
  }

  postInitError(error: unknown): Promise<ApiReply> {
    const response = toErrorResponse(error);
    this.listener.initError(toHeaderValue(response.errorType), Buffer.from(JSON.stringify(response)));
    return replied(ACCEPTED);
  }

  openResponseStream(requestId: string): ResponseStreamRequest {
    const relay = this.running.has(requestId) ? this.listener.relayOf(requestId) : undefined;
    const { promise: reply, resolve: answer } = Promise.withResolvers<ApiReply>();
    this.openUploads++;
    this.holdProcess();
    let open = true;
    const ended = (end: UploadEnd) => {
      if (open) {
        open = false;
        this.openUploads--;
        this.holdProcess();
      }
      if (!this.running.delete(requestId)) return answer({ status: 400, body: '' });
      this.listener.outcome(requestId, streamedOutcome(end));
      // After the environment has the outcome, as the API answers after it took the whole upload.
      setImmediate(() => answer(end.kind === 'ok' ? ACCEPTED : { status: 413, body: '' }));
    };
    const request = new InProcessUpload(relay ?? droppedRelay(requestId), ended);
    return { request, replied: reply };
  }

  private holdProcess(): void {
    const alive = this.waiting.length > 0 || this.openUploads > 0;
    if (alive === this.alive) return;
    this.alive = alive;
    this.listener.keepAlive(alive);
  }
}

function streamedOutcome(end: UploadEnd): RuntimeOutcome {
  if (end.kind === 'too-large') return tooLarge(end.bytes, MAX_STREAMED_BYTES);
  if (end.kind === 'truncated')
    return {
      kind: 'error',
      errorType: 'Runtime.TruncatedResponse',
      body: Buffer.alloc(0),
      contentType: undefined,
    };
  return end.errorType
    ? { kind: 'error', errorType: end.errorType, body: end.errorBody, contentType: 'application/json' }
    : { kind: 'response', body: Buffer.alloc(0), contentType: undefined };
}

/** The /next headers the Runtime API would send (next-headers.ts), lower-cased as node:http gives them. */
function invokeHeaders(request: InvocationRequest, body: Buffer, deadlineMs: number): IncomingHttpHeaders {
  return nextHeaders(request, body.length, deadlineMs, true);
}

/** Settles after the environment's own continuations ran: the answer's result is on the link by then. */
function replied(reply: ApiReply): Promise<ApiReply> {
  return new Promise((resolve) => setImmediate(() => resolve(reply)));
}

function invalidRequestId(): Promise<ApiReply> {
  return replied({
    status: 400,
    body: '{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}',
  });
}

/** An upload for an invocation no longer running is taken and dropped, as the API reads and drops it. */
function droppedRelay(requestId: string): StreamRelay {
  const relay = new StreamRelay(requestId, () => {});
  relay.close();
  return relay;
}
