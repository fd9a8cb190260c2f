// InvokeWithResponseStream's answer (reference §14.5): AWS event-stream framing over HTTP, one
// `PayloadChunk` event per chunk as the runtime writes it and a final `InvokeComplete`. The framing is the
// SDK's own codec, so what we send is what the SDK's decoder reads.
import type { ServerResponse } from 'node:http';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { InvocationOutput } from '../../runtime-link/agent-connection.ts';
import { ClientWriter, type ResponseSink } from '../../runtime-link/response-sink.ts';

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

function event(eventType: string, contentType: string, body: Uint8Array): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':message-type': { type: 'string', value: 'event' },
      ':content-type': { type: 'string', value: contentType },
    },
    body,
  });
}

export interface EventStreamHead {
  requestId: string;
  executedVersion: string;
}

/** Writes the HTTP head when the first event goes out, so errors before it are still ordinary API errors. */
export class EventStreamAnswer implements ResponseSink {
  private readonly res: ServerResponse;
  private readonly head: EventStreamHead;
  private readonly writer: ClientWriter;
  private cancel: (() => void) | undefined;

  constructor(res: ServerResponse, head: EventStreamHead) {
    this.res = res;
    this.head = head;
    this.writer = new ClientWriter(res);
    // A caller that hangs up stops the relay; the function runs on (as on Lambda) and its environment is freed.
    res.on('close', () => {
      if (!res.writableFinished) this.cancel?.();
    });
  }

  start(_contentType: string | undefined, cancel: () => void): void {
    this.cancel = cancel;
    if (this.res.destroyed) cancel();
  }

  write(chunk: Buffer, passed: () => void): void {
    if (this.res.destroyed) {
      passed();
      return;
    }
    this.writeHead();
    this.writer.write(event('PayloadChunk', 'application/octet-stream', chunk), passed);
  }

  /** After the invocation: a buffered response as one chunk, then the completion with any error. */
  complete(out: InvocationOutput, logTail: boolean): void {
    if (this.res.destroyed) return;
    this.writeHead();
    const { result, body } = out;
    if (result.streamedBytes === undefined && result.outcome !== 'error' && body.length > 0)
      this.res.write(event('PayloadChunk', 'application/octet-stream', body));
    const complete: Record<string, string> = {};
    if (result.outcome === 'error') {
      complete.ErrorCode = result.errorType ?? 'Unhandled';
      complete.ErrorDetails = errorDetails(body);
    }
    if (logTail) complete.LogResult = result.logTail;
    this.res.end(event('InvokeComplete', 'application/json', Buffer.from(JSON.stringify(complete))));
  }

  private writeHead(): void {
    if (this.res.headersSent) return;
    this.res.writeHead(200, {
      'Content-Type': 'application/vnd.amazon.eventstream',
      'X-Amz-Executed-Version': this.head.executedVersion,
      'X-Amzn-RequestId': this.head.requestId,
    });
  }
}

/** The error's message, as a caller reads it; the raw payload when it is not Lambda's error shape. */
function errorDetails(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: passed on as it is
  }
  return text;
}
