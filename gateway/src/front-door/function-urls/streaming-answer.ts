// A RESPONSE_STREAM function URL's answer (reference §1.3, §5.3): status, headers and cookies from the
// HTTP-integration prelude (JSON, then eight NUL bytes), then the body passed on as the function writes it.
import type { ServerResponse } from 'node:http';
import type { InvocationOutput } from '../../runtime-link/agent-connection.ts';
import { ClientWriter, type ResponseSink } from '../../runtime-link/response-sink.ts';
import { setHttpHead } from '../http-answer.ts';
import { BAD_GATEWAY, responseHead, type UrlResponse } from './response.ts';

export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = Buffer.alloc(8);
/** A prelude longer than this without its delimiter is malformed: headers are not megabytes. */
const MAX_PRELUDE_BYTES = 64 * 1024;

export class FunctionUrlStream implements ResponseSink {
  private readonly res: ServerResponse;
  /** Headers the gateway adds to whatever the function says (CORS, the request id). */
  private readonly extraHeaders: (head: Omit<UrlResponse, 'body'>) => Omit<UrlResponse, 'body'>;
  private readonly writer: ClientWriter;
  private cancel: (() => void) | undefined;
  /** Bytes of the prelude so far; undefined once the head is out (or when there is no prelude). */
  private prelude: Buffer | undefined;
  private malformed = false;

  constructor(
    res: ServerResponse,
    extraHeaders: (head: Omit<UrlResponse, 'body'>) => Omit<UrlResponse, 'body'>,
  ) {
    this.res = res;
    this.writer = new ClientWriter(res);
    this.extraHeaders = extraHeaders;
    // A client that hangs up stops the relay; the function runs on and its environment is freed after.
    res.on('close', () => {
      if (!res.writableFinished) this.cancel?.();
    });
  }

  start(contentType: string | undefined, cancel: () => void): void {
    this.cancel = cancel;
    if (this.res.destroyed) {
      cancel();
      return;
    }
    if (contentType === HTTP_INTEGRATION_CONTENT_TYPE) {
      this.prelude = Buffer.alloc(0);
      return;
    }
    // A stream without the prelude is a 200 of the runtime's content type.
    this.sendHead({ status: 200, headers: [['content-type', contentType ?? 'application/octet-stream']] });
  }

  write(chunk: Buffer, passed: () => void): void {
    if (this.res.destroyed || this.malformed) {
      passed();
      return;
    }
    let body = chunk;
    if (this.prelude !== undefined) {
      const sofar = Buffer.concat([this.prelude, chunk]);
      const end = sofar.indexOf(DELIMITER);
      if (end < 0) {
        this.prelude = sofar;
        if (sofar.length > MAX_PRELUDE_BYTES) this.reject();
        passed();
        return;
      }
      const head = parsePrelude(sofar.subarray(0, end));
      if (!head) {
        this.reject();
        passed();
        return;
      }
      this.prelude = undefined;
      this.sendHead(head);
      body = sofar.subarray(end + DELIMITER.length);
    }
    if (body.length === 0) passed();
    else this.writer.write(body, passed);
  }

  /**
   * Ends the answer once the invocation is over; false when the runtime did not stream, so the caller
   * answers with the buffered result instead.
   */
  finish(out: InvocationOutput): boolean {
    // Started but not `streamedBytes`: the environment was lost mid-stream, and the error says so.
    if (out.result.streamedBytes === undefined && this.cancel === undefined) return false;
    if (this.res.destroyed) return true;
    const failed = out.result.outcome === 'error' || this.malformed || this.prelude !== undefined;
    if (!failed) this.res.end();
    else if (!this.res.headersSent) this.sendAnswer(BAD_GATEWAY);
    // Part of the body is out: a cut connection (no last chunk) tells the client it is incomplete. The
    // socket is ended rather than destroyed so the bytes already written still reach the client.
    else this.cut();
    return true;
  }

  private cut(): void {
    const socket = this.res.socket;
    if (!socket) this.res.destroy();
    else socket.end(() => socket.destroy());
  }

  private reject(): void {
    this.malformed = true;
    this.prelude = undefined;
    this.cancel?.();
  }

  private sendHead(head: Omit<UrlResponse, 'body'>): void {
    setHttpHead(this.res, this.extraHeaders(head));
    this.res.flushHeaders(); // the first byte goes out now, not with the first body chunk
  }

  private sendAnswer(answer: UrlResponse): void {
    setHttpHead(this.res, this.extraHeaders(answer));
    this.res.setHeader('content-length', answer.body.length);
    this.res.end(answer.body);
  }
}

/** The prelude's JSON object; statusCode defaults to 200 (reference §5.3). */
function parsePrelude(json: Buffer): Omit<UrlResponse, 'body'> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const prelude = value as { statusCode?: unknown; headers?: unknown; cookies?: unknown };
  return responseHead({ ...prelude, statusCode: prelude.statusCode ?? 200 });
}
