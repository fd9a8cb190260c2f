// Reads a runtime's streaming-mode /response body (chunked, with error trailers) and relays each chunk as
// it arrives, pausing the runtime's upload while the relay has no credit: backpressure end to end.
import type { IncomingMessage } from 'node:http';
import type { RequestHead } from './request-head.ts';
import type { StreamedUpload } from './upload-tap.ts';

/** Lambda's limit for a streamed response: 200 MB (reference §1.6). */
export const MAX_STREAMED_BYTES = 200 * 1024 * 1024;

/** Where a streamed body goes; the agent's StreamRelay. */
export interface ResponseRelay {
  start(contentType: string | undefined): void;
  /** False when the caller must wait for `writable()` before the next chunk. */
  chunk(data: Buffer): boolean;
  writable(): Promise<void>;
  /** The upload is over: send what the relay still holds now, ahead of the outcome. */
  flush(): void;
  /**
   * Chunks lent for this call only (the tap's read buffer), sent at once; a promise when the link has not
   * taken them yet, until when the buffer must not be reused. Check `hasCredit` after.
   */
  chunkLent(parts: Buffer[]): Promise<void> | undefined;
  readonly hasCredit: boolean;
}

export type StreamedRead =
  | { kind: 'ok'; bytes: number; errorType: string | undefined; errorBody: Buffer }
  | { kind: 'too-large'; bytes: number }
  | { kind: 'truncated'; bytes: number };

/**
 * Streaming mode is what the header says; aws-lambda-go streams without it, as a chunked upload that
 * declares the error trailers, and tells its buffered JSON answers (sent the same way) by their type.
 */
export function declaresStreamedUpload(header: (name: string) => string | undefined): boolean {
  if (header('lambda-runtime-function-response-mode') === 'streaming') return true;
  const declaresErrorTrailers = /(^|,)\s*lambda-runtime-function-error-type\s*(,|$)/i.test(
    header('trailer') ?? '',
  );
  return (
    declaresErrorTrailers &&
    /chunked/i.test(header('transfer-encoding') ?? '') &&
    !/^application\/json\b/i.test(header('content-type') ?? '')
  );
}

const RESPONSE_PATH = /^\/2018-06-01\/runtime\/invocation\/[^/]+\/response$/;

/** The heads whose chunked body the Runtime API's tap takes off the socket: streamed /responses. */
export function isStreamedResponseHead(head: RequestHead): boolean {
  return head.method === 'POST' && RESPONSE_PATH.test(head.path) && declaresStreamedUpload(head.header);
}

/**
 * Relays the body: from the tap's read buffer when there is an `upload` (the Runtime API's own sockets),
 * else through the IncomingMessage. Either way the end, the trailers and truncation are the request's.
 */
export function relayStreamedBody(
  req: IncomingMessage,
  relay: ResponseRelay,
  limit: number = MAX_STREAMED_BYTES,
  upload?: StreamedUpload,
): Promise<StreamedRead> {
  relay.start(headerOf(req, 'content-type'));
  return new Promise((resolve) => {
    let bytes = 0;
    let settled = false;
    const settle = (read: StreamedRead) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      relay.flush();
      resolve(read);
    };
    if (upload) {
      let tooLarge = false;
      upload.consume((slices) => {
        if (settled || tooLarge) return;
        for (const slice of slices) bytes += slice.length;
        if (bytes > limit) {
          // Nothing past the limit is relayed; the caller answers 413 and closes the upload.
          tooLarge = true;
          upload.hold(); // never released: the socket is closed after the 413
          settle({ kind: 'too-large', bytes });
          return;
        }
        const sending = relay.chunkLent(slices);
        if (sending) void sending.then(upload.hold());
        if (!relay.hasCredit) void relay.writable().then(upload.hold());
      });
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) {
        // Nothing past the limit is relayed; the caller answers 413 and closes the upload.
        req.pause();
        settle({ kind: 'too-large', bytes });
        return;
      }
      if (!relay.chunk(chunk)) {
        req.pause();
        void relay.writable().then(() => {
          if (!settled) req.resume();
        });
      }
    };
    // With the tap the request carries no data, only its end and trailers, which need it flowing.
    if (upload) req.resume();
    else req.on('data', onData);
    req.on('end', () => {
      const errorType = req.trailers['lambda-runtime-function-error-type'];
      const encoded = req.trailers['lambda-runtime-function-error-body'];
      settle({
        kind: 'ok',
        bytes,
        errorType: errorType || undefined,
        errorBody: encoded ? Buffer.from(encoded, 'base64') : Buffer.alloc(0),
      });
    });
    // A runtime that hangs up (or is killed) mid-stream sent a truncated response.
    req.on('aborted', () => settle({ kind: 'truncated', bytes }));
    req.on('error', () => settle({ kind: 'truncated', bytes }));
  });
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
