// Stands between a runtime's connection and node:http's parser, so that a streamed /response's body never
// goes through the parser: node:http copied every piece of every read into a fresh buffer and an
// IncomingMessage event, and that external memory cost the agent a full collection per ~14 MB streamed
// (ADR-53). The tap reads the socket into one buffer of its own, follows each request's framing, and
// passes everything to node:http unchanged except a streamed /response's chunk framing and data: the data
// is lent to whoever claims the upload (the relay), and node:http then gets the body's last chunk and the
// runtime's own trailers, so routing, state checks, trailers and replies stay node:http's. Anything the
// tap does not follow (a head it does not understand, a body it cannot frame) it passes on untouched
// from then on, and node:http answers it as before.
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { ChunkedDecoder, type ChunkedEvents } from './chunked-decoder.ts';
import { headEnd, parseRequestHead, type RequestHead } from './request-head.ts';

/** A streamed /response's body, taken from the socket: `consume` or `discard` it, exactly once. */
export interface StreamedUpload {
  /** Each read's data, lent for the call only; `hold()` inside it keeps further reads off the buffer. */
  consume(onData: (slices: Buffer[]) => void): void;
  /** Stops reading the socket (and so reusing its buffer) until the returned function runs. */
  hold(): () => void;
  /** Nobody reads this body (the request was answered without it): drop it, then go on. */
  discard(): void;
}

/** A head node:http has not seen yet grows at most this big (its own limit is 16 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
const READ_BYTES = 256 * 1024;
const LAST_CHUNK = Buffer.from('0\r\n');
/** A chunk size node:http's parser refuses, so a body the tap found malformed fails there as before. */
const MALFORMED = Buffer.from('x\r\n');

type Mode =
  | { kind: 'head' }
  | { kind: 'length'; left: number }
  | { kind: 'chunked'; decoder: ChunkedDecoder }
  | { kind: 'upload'; decoder: ChunkedDecoder; upload: Upload }
  | { kind: 'untracked' };

const taps = new WeakMap<Duplex, UploadTap>();

/**
 * The upload behind `socket` (a request's socket in node:http) whose head it is, when that request is the
 * streamed /response the tap is holding the body of; undefined otherwise.
 */
export function claimStreamedUpload(
  socket: unknown,
  method: string | undefined,
  url: string | undefined,
): StreamedUpload | undefined {
  const tap = taps.get(socket as Duplex);
  return tap?.claim(method, url?.split('?')[0]);
}

/**
 * Wraps a connection the Runtime API accepted (paused, `pauseOnConnect`) into the stream node:http reads;
 * `isStreamed` says which heads are streamed /responses.
 */
export function tapConnection(accepted: Socket, isStreamed: (head: RequestHead) => boolean): Duplex {
  return new UploadTap(accepted, isStreamed).duplex;
}

class Upload implements StreamedUpload {
  onData: ((slices: Buffer[]) => void) | undefined;
  discarded = false;
  settled = false;
  /** A request of node:http's claimed it: no other may. */
  bound = false;
  private readonly tap: UploadTap;
  readonly method: string;
  readonly path: string;

  constructor(tap: UploadTap, head: RequestHead) {
    this.tap = tap;
    this.method = head.method;
    this.path = head.path;
  }

  consume(onData: (slices: Buffer[]) => void): void {
    if (this.settled) return;
    this.settled = true;
    this.onData = onData;
    this.tap.claimed();
  }

  hold(): () => void {
    return this.tap.hold();
  }

  discard(): void {
    if (this.settled) return;
    this.settled = true;
    this.discarded = true;
    this.tap.claimed();
  }
}

class UploadTap implements ChunkedEvents {
  readonly duplex: Duplex;
  private readonly socket: Socket;
  private readonly isStreamed: (head: RequestHead) => boolean;
  private mode: Mode = { kind: 'head' };
  private head: Buffer = Buffer.alloc(0);
  /** A streamed /response whose head node:http has and whose body waits to be claimed or discarded. */
  private waiting: Upload | undefined;
  /** What followed that head in its read (copied: the read buffer is reused). */
  private stash: Buffer | undefined;
  private slices: Buffer[] = [];
  private trailerParts: Buffer[] = [];
  private holds = 0;
  private pushBlocked = false;

  constructor(accepted: Socket, isStreamed: (head: RequestHead) => boolean) {
    this.isStreamed = isStreamed;
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    // The accepted socket's handle, rewrapped to read into `buffer` (as reused-reads.ts does in the gateway).
    this.socket = new Socket({
      handle: (accepted as unknown as { _handle: never })._handle,
      allowHalfOpen: true,
      readable: true,
      writable: true,
      onread: { buffer, callback: (n) => this.read(buffer.subarray(0, n)) },
    });
    this.socket.setNoDelay(true);
    const socket = this.socket;
    this.duplex = new Duplex({
      allowHalfOpen: true,
      read: () => {
        if (!this.pushBlocked) return;
        this.pushBlocked = false;
        this.release();
      },
      write: (chunk, _encoding, done) => socket.write(chunk, done),
      writev: (chunks, done) => {
        socket.cork();
        for (const [i, { chunk }] of chunks.entries())
          socket.write(chunk, i === chunks.length - 1 ? done : undefined);
        socket.uncork();
      },
      final: (done) => socket.end(done),
      destroy: (err, done) => {
        socket.destroy();
        done(err);
      },
    });
    socket.on('end', () => {
      this.deliver();
      this.duplex.push(null);
    });
    socket.on('error', (err) => this.duplex.destroy(err));
    socket.on('close', () => this.duplex.destroy());
    taps.set(this.duplex, this);
  }

  claim(method: string | undefined, path: string | undefined): StreamedUpload | undefined {
    const upload = this.waiting;
    if (!upload || upload.bound || upload.method !== method || upload.path !== path) return undefined;
    upload.bound = true;
    return upload;
  }

  /** The waiting upload was claimed or discarded: what followed its head is read now. */
  claimed(): void {
    queueMicrotask(() => {
      const stash = this.stash;
      this.stash = undefined;
      if (stash) this.process(stash);
      this.deliver();
      this.release();
    });
  }

  hold(): () => void {
    this.holds++;
    if (this.holds === 1) this.socket.pause();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  // ChunkedEvents, while a streamed /response's body is read.
  data(slice: Buffer): void {
    if (this.mode.kind === 'upload' && !this.mode.upload.discarded) this.slices.push(slice);
  }

  trailer(slice: Buffer): void {
    if (this.mode.kind === 'upload') this.trailerParts.push(Buffer.from(slice));
  }

  private release(): void {
    this.holds--;
    if (this.holds === 0) this.socket.resume();
  }

  private read(bytes: Buffer): boolean {
    this.process(bytes);
    this.deliver();
    return true;
  }

  /** Follows `bytes` through as many requests as they hold; stops (stashing the rest) at a new upload. */
  private process(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length) {
      const mode = this.mode;
      if (mode.kind === 'untracked') {
        this.pass(bytes.subarray(at));
        return;
      }
      if (mode.kind === 'head') {
        at = this.readHead(bytes, at);
        if (this.waiting && !this.waiting.settled) {
          if (at < bytes.length) this.stash = Buffer.from(bytes.subarray(at));
          return;
        }
        continue;
      }
      if (mode.kind === 'length') {
        const n = Math.min(mode.left, bytes.length - at);
        this.pass(bytes.subarray(at, at + n));
        mode.left -= n;
        at += n;
        if (mode.left === 0) this.mode = { kind: 'head' };
        continue;
      }
      const from = at;
      at = mode.decoder.feed(bytes, at, mode.kind === 'upload' ? this : IGNORE);
      if (mode.kind === 'chunked') {
        this.pass(bytes.subarray(from, at));
        if (mode.decoder.broken) this.mode = { kind: 'untracked' };
        else if (mode.decoder.done) this.mode = { kind: 'head' };
        continue;
      }
      if (mode.decoder.broken) {
        this.deliver();
        this.pass(MALFORMED);
        this.mode = { kind: 'untracked' };
        this.pass(bytes.subarray(at));
        return;
      }
      if (mode.decoder.done) this.uploadEnded();
    }
  }

  /** Reads head bytes from `at`; once the head is whole, passes it on and picks the body's mode. */
  private readHead(bytes: Buffer, at: number): number {
    let head: Buffer;
    let next: number;
    if (this.head.length === 0) {
      const end = headEnd(bytes, at);
      if (end < 0) {
        this.head = Buffer.from(bytes.subarray(at));
        return bytes.length;
      }
      head = bytes.subarray(at, end);
      next = end;
    } else {
      const had = this.head.length;
      this.head = Buffer.concat([this.head, bytes.subarray(at)]);
      const end = headEnd(this.head, had);
      if (end < 0) {
        if (this.head.length > MAX_HEAD_BYTES) this.untrack();
        return bytes.length;
      }
      head = this.head.subarray(0, end);
      next = at + end - had;
      this.head = Buffer.alloc(0);
    }
    const parsed = parseRequestHead(head);
    if (!parsed) this.mode = { kind: 'untracked' };
    else if (parsed.framing.kind === 'chunked' && this.isStreamed(parsed)) {
      // Held (not read further) until node:http has the head and the server claims or discards the body.
      this.waiting = new Upload(this, parsed);
      this.mode = { kind: 'upload', decoder: new ChunkedDecoder(), upload: this.waiting };
      this.holds++;
      this.socket.pause();
    } else if (parsed.framing.kind === 'chunked')
      this.mode = { kind: 'chunked', decoder: new ChunkedDecoder() };
    else if (parsed.framing.kind === 'length' && parsed.framing.bytes > 0)
      this.mode = { kind: 'length', left: parsed.framing.bytes };
    this.pass(head);
    return next;
  }

  private untrack(): void {
    const head = this.head;
    this.head = Buffer.alloc(0);
    this.mode = { kind: 'untracked' };
    this.pass(head);
  }

  /** The body's data went to its reader; node:http gets its last chunk and the runtime's trailers. */
  private uploadEnded(): void {
    this.deliver();
    const trailer = this.trailerParts;
    this.trailerParts = [];
    this.waiting = undefined;
    this.mode = { kind: 'head' };
    this.pass(Buffer.concat([LAST_CHUNK, ...trailer]));
  }

  /** Hands the data read so far to the upload's reader (nothing, when it was discarded). */
  private deliver(): void {
    if (this.slices.length === 0) return;
    const slices = this.slices;
    this.slices = [];
    const mode = this.mode;
    const upload = mode.kind === 'upload' ? mode.upload : this.waiting;
    upload?.onData?.(slices);
  }

  /** Bytes for node:http, copied: the read buffer is reused. */
  private pass(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (!this.duplex.push(Buffer.from(bytes)) && !this.pushBlocked) {
      this.pushBlocked = true;
      this.holds++;
      this.socket.pause();
    }
  }
}

const IGNORE: ChunkedEvents = { data: () => {}, trailer: () => {} };
