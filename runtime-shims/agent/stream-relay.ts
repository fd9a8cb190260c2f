// Relays one streamed response from the runtime to the gateway over the link, within the credit the
// gateway grants: at most STREAM_WINDOW_BYTES are in flight, so neither side ever holds the whole body.
//
// The runtime's upload arrives in pieces of a socket read or less (often two per chunk it wrote); each
// piece as its own link frame cost a frame, a message and a client write apiece. So the pieces that
// arrive in one turn of the event loop go out as one frame at its end (setImmediate: no timer, so the
// first bytes wait for nothing but the reads already under way), or at once when they reach FRAME_BYTES.
import { type AgentMessage, STREAM_WINDOW_BYTES } from '../../apis/environment-link.ts';

/** A frame's body, whole or in parts (which the frame joins with its one copy). */
export type LinkBody = Uint8Array | readonly Uint8Array[];

/** Sends one link message. */
export type LinkSend = (message: AgentMessage, body?: LinkBody) => void;

/**
 * Sends a `stream-chunk` whose parts are only lent: undefined once the link has taken every byte (written,
 * or copied), else a promise for when it has, before which the parts' memory must not be reused.
 */
export type LentSend = (message: AgentMessage, parts: readonly Buffer[]) => Promise<void> | undefined;

/** The largest frame the relay builds: a quarter of the window, so credit keeps flowing while it travels. */
export const FRAME_BYTES = STREAM_WINDOW_BYTES / 4;

export class StreamRelay {
  readonly requestId: string;
  private readonly send: LinkSend;
  private credit = STREAM_WINDOW_BYTES;
  private waiter: (() => void) | undefined;
  private started = false;
  private relayed = 0;
  /** Chunks taken from the runtime and not yet framed; they count against the credit already. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private flushQueued = false;
  /** The client went away: the rest is read from the runtime and dropped, so the handler can finish. */
  private cancelled = false;
  /** The invocation's result went out: nothing more may follow it on the link. */
  private closed = false;

  private readonly sendLent: LentSend;

  constructor(requestId: string, send: LinkSend, sendLent?: LentSend) {
    this.requestId = requestId;
    this.send = send;
    // Without a way to write lent bytes, they are copied once into the frame's one part.
    this.sendLent = sendLent ?? ((message, parts) => void send(message, [Buffer.concat(parts)]));
  }

  /** Whether the window has room; a cancelled or closed stream takes (and drops) whatever comes. */
  get hasCredit(): boolean {
    return this.credit > 0 || this.cancelled || this.closed;
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Bytes taken for the gateway so far (all of them sent once the relay is flushed or closed). */
  get relayedBytes(): number {
    return this.relayed;
  }

  start(contentType: string | undefined): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.send({ type: 'stream-start', requestId: this.requestId, contentType });
  }

  /** Takes one chunk; false when the window is spent, and the caller waits for `writable()`. */
  chunk(data: Buffer): boolean {
    if (this.cancelled || this.closed || data.length === 0) return true;
    this.credit -= data.length;
    this.relayed += data.length;
    this.held.push(data);
    this.heldBytes += data.length;
    if (this.heldBytes >= FRAME_BYTES) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => {
        this.flushQueued = false;
        this.flush();
      });
    }
    return this.credit > 0;
  }

  /**
   * Takes chunks lent for this call (the Runtime API's read buffer) and sends them now, with whatever is
   * held, as one frame: a read of the upload is a frame, and its bytes are never copied on the way.
   */
  chunkLent(parts: Buffer[]): Promise<void> | undefined {
    if (this.cancelled || this.closed) return undefined;
    let bytes = 0;
    for (const part of parts) bytes += part.length;
    if (bytes === 0) return undefined;
    this.credit -= bytes;
    this.relayed += bytes;
    const frame = this.heldBytes === 0 ? parts : [...this.held, ...parts];
    this.held = [];
    this.heldBytes = 0;
    return this.sendLent({ type: 'stream-chunk', requestId: this.requestId }, frame);
  }

  /** Sends what is held as one frame; the end of the upload calls it so nothing waits for the next turn. */
  flush(): void {
    if (this.heldBytes === 0) return;
    const parts = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (!this.cancelled && !this.closed)
      this.send({ type: 'stream-chunk', requestId: this.requestId }, parts);
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
    this.drop();
    this.wake();
  }

  /** The result follows: what is held goes first, then nothing more. */
  close(): void {
    this.flush();
    this.closed = true;
    this.wake();
  }

  private drop(): void {
    this.relayed -= this.heldBytes; // never sent
    this.held = [];
    this.heldBytes = 0;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
