// Relays one streamed response from the runtime to the gateway over the link, within the credit the
// gateway grants: at most STREAM_WINDOW_BYTES are in flight, so neither side ever holds the whole body.
import { type AgentMessage, STREAM_WINDOW_BYTES } from '../../apis/environment-link.ts';

export class StreamRelay {
  readonly requestId: string;
  private readonly send: (message: AgentMessage, body?: Buffer) => void;
  private credit = STREAM_WINDOW_BYTES;
  private waiter: (() => void) | undefined;
  private started = false;
  private relayed = 0;
  /** The client went away: the rest is read from the runtime and dropped, so the handler can finish. */
  private cancelled = false;
  /** The invocation's result went out: nothing more may follow it on the link. */
  private closed = false;

  constructor(requestId: string, send: (message: AgentMessage, body?: Buffer) => void) {
    this.requestId = requestId;
    this.send = send;
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Bytes sent to the gateway so far. */
  get relayedBytes(): number {
    return this.relayed;
  }

  start(contentType: string | undefined): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.send({ type: 'stream-start', requestId: this.requestId, contentType });
  }

  /** Sends one chunk; false when the window is spent, and the caller waits for `writable()`. */
  chunk(data: Buffer): boolean {
    if (this.cancelled || this.closed || data.length === 0) return true;
    this.credit -= data.length;
    this.relayed += data.length;
    this.send({ type: 'stream-chunk', requestId: this.requestId }, data);
    return this.credit > 0;
  }

  /** Resolves once the gateway granted credit again, or the stream no longer needs it. */
  writable(): Promise<void> {
    if (this.credit > 0 || this.cancelled || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  grant(bytes: number): void {
    if (!Number.isFinite(bytes) || bytes <= 0) return;
    this.credit = Math.min(this.credit + bytes, STREAM_WINDOW_BYTES);
    if (this.credit > 0) this.wake();
  }

  cancel(): void {
    this.cancelled = true;
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
