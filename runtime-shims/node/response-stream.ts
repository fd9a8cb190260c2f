// The writable a streaming handler receives: bytes go out as a chunked POST to /response, a failure as trailers.
import { Writable } from 'node:stream';
import { InvalidStreamingOperation, toErrorResponse, toHeaderValue } from './errors.ts';
import type { StreamUpload } from './runtime-api-client.ts';

type WriteCallback = (error?: Error | null) => void;
type Chunk = string | Uint8Array;

export class ResponseStream extends Writable {
  /**
   * Runs just before the first bytes go out; `HttpResponseStream.from` uses it to send its prelude. Kept under the
   * official client's name because code written for Lambda may set it directly.
   */
  _onBeforeFirstWrite: ((write: (chunk: Chunk) => void) => void) | undefined;
  private readonly request: StreamUpload;
  private writeCalled = false;
  private preludeSent = false;
  private failure: unknown;
  private failed = false;

  constructor(request: StreamUpload, highWaterMark?: number) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
    this.request = request;
    request.on('error', (err) => this.destroy(err));
  }

  /** Only before the first write: the content type travels in the request headers. */
  setContentType(contentType: string): void {
    if (this.writeCalled) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    this.request.setHeader('Content-Type', contentType);
  }

  // Anything that is neither text nor bytes is sent as JSON, as Lambda's runtime does.
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    this.writeCalled = true;
    const data = toChunk(chunk);
    return typeof encoding === 'function'
      ? super.write(data, encoding)
      : super.write(data, encoding as BufferEncoding, callback);
  }

  override end(chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (typeof chunk === 'function') return super.end(chunk as () => void);
    const done = typeof encoding === 'function' ? encoding : callback;
    // Through write(), so a final chunk is converted and preceded by the prelude like any other.
    if (chunk !== undefined && chunk !== null)
      this.write(chunk, typeof encoding === 'function' ? undefined : encoding);
    return super.end(done);
  }

  /**
   * Ends the response with the error in trailers (reference §1.3). Too late once the response is complete: then
   * the caller already has every byte and nothing more can be said.
   */
  fail(error: unknown): void {
    if (this.request.writableEnded || this.request.destroyed) return;
    this.failed = true;
    this.failure = error;
    if (this.destroyed) this.finishRequest();
    else if (!this.writableEnded) this.end();
    // Otherwise end() is already under way and _final will add the trailers.
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: WriteCallback): void {
    this.sendPrelude();
    this.request.write(chunk, encoding, (err) => callback(err));
  }

  override _final(callback: WriteCallback): void {
    this.finishRequest(() => callback());
  }

  override _destroy(error: Error | null, callback: WriteCallback): void {
    // Destroyed with an error (pipeline() does that when its source fails): the error becomes the trailers.
    if (error && !this.failed) {
      this.failed = true;
      this.failure = error;
    }
    if (this.failed) this.finishRequest();
    // Destroyed without a reason before the end: abort, so the Runtime API sees a truncated response.
    else if (!this.request.writableEnded) this.request.destroy();
    callback(error);
  }

  private finishRequest(done?: () => void): void {
    if (this.request.writableEnded || this.request.destroyed) return;
    // An empty body still carries its HTTP-integration prelude, so the front door can read status and headers.
    this.sendPrelude();
    if (this.failed) {
      const response = toErrorResponse(this.failure);
      this.request.addTrailers({
        'Lambda-Runtime-Function-Error-Type': toHeaderValue(response.errorType),
        'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(response)).toString('base64'),
      });
    }
    this.request.end(done);
  }

  private sendPrelude(): void {
    if (this.preludeSent) return;
    this.preludeSent = true;
    this._onBeforeFirstWrite?.((chunk) => this.request.write(chunk));
  }
}

function toChunk(chunk: unknown): Chunk {
  return typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk : JSON.stringify(chunk);
}
