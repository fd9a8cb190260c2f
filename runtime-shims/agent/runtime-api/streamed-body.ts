// Reads a runtime's streaming-mode /response body (chunked, with error trailers) and relays each chunk as
// it arrives, pausing the runtime's upload while the relay has no credit: backpressure end to end.
import type { IncomingMessage } from 'node:http';

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
}

export type StreamedRead =
  | { kind: 'ok'; bytes: number; errorType: string | undefined; errorBody: Buffer }
  | { kind: 'too-large'; bytes: number }
  | { kind: 'truncated'; bytes: number };

export function relayStreamedBody(
  req: IncomingMessage,
  relay: ResponseRelay,
  limit: number = MAX_STREAMED_BYTES,
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
    req.on('data', onData);
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
