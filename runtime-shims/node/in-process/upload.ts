// A streamed response written in-process: what the runtime's ResponseStream writes goes to the link's
// StreamRelay as it is written, within the relay's credit (a write's callback waits for it, so a handler's
// write() sees backpressure as over the Runtime API); its trailers carry a mid-stream error (reference §1.3).
import { Writable } from 'node:stream';
import { MAX_STREAMED_BYTES } from '../../agent/runtime-api/streamed-body.ts';
import type { StreamRelay } from '../../agent/stream-relay.ts';

export type UploadEnd =
  | { kind: 'ok'; bytes: number; errorType: string | undefined; errorBody: Buffer }
  | { kind: 'too-large'; bytes: number }
  | { kind: 'truncated'; bytes: number };

export class InProcessUpload extends Writable {
  private readonly relay: StreamRelay;
  private readonly ended: (end: UploadEnd) => void;
  private contentType = 'application/octet-stream';
  private trailers: Record<string, string> = {};
  private bytes = 0;
  private over = false;

  constructor(relay: StreamRelay, ended: (end: UploadEnd) => void) {
    super();
    this.relay = relay;
    this.ended = ended;
  }

  setHeader(name: string, value: string | number | readonly string[]): this {
    if (name.toLowerCase() === 'content-type') this.contentType = String(value);
    return this;
  }

  addTrailers(trailers: Record<string, string>): void {
    this.trailers = { ...this.trailers, ...trailers };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.relay.start(this.contentType);
    if (!this.over) this.bytes += chunk.length;
    if (!this.over && this.bytes > MAX_STREAMED_BYTES) {
      this.over = true;
      this.relay.flush();
      this.ended({ kind: 'too-large', bytes: this.bytes });
    }
    if (this.over) {
      callback();
      return;
    }
    // Lent, not copied: a handler may reuse its buffer once its write is done, so the write is done only
    // when the link has taken the bytes (and the window has room again).
    const sending = this.relay.chunkLent([chunk]);
    const window = this.relay.hasCredit ? undefined : this.relay.writable();
    if (!sending && !window) callback();
    else void Promise.all([sending, window]).then(() => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.relay.start(this.contentType);
    this.relay.flush();
    if (!this.over) {
      const encoded = this.trailers['Lambda-Runtime-Function-Error-Body'];
      this.ended({
        kind: 'ok',
        bytes: this.bytes,
        errorType: this.trailers['Lambda-Runtime-Function-Error-Type'] || undefined,
        errorBody: encoded ? Buffer.from(encoded, 'base64') : Buffer.alloc(0),
      });
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed before its end: what the Runtime API sees as a truncated upload.
    if (!this.writableFinished && !this.over) {
      this.relay.start(this.contentType);
      this.relay.flush();
      this.ended({ kind: 'truncated', bytes: this.bytes });
    }
    callback(error);
  }
}
