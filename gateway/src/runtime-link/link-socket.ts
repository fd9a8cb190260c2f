// The gateway's end of an environment's link: RFC 6455 frames over the upgraded socket, read as they
// arrive. `ws` joined each message into one fresh buffer before handing it over, so a streamed response's
// bytes were allocated twice in the gateway (the socket's read, then the join) and collected by full GCs of
// its large heap (ADR-49). Here a message's payload goes on in the pieces the socket read; only control
// frames (at most 125 bytes) are collected. The agent's side is the `ws` client, unchanged.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { takeReusedReads } from './reused-reads.ts';

/** Where one message's payload goes, piece by piece, in order. */
export interface MessagePieces {
  /** A piece valid during the call only: a local link reads into one reused buffer (reused-reads.ts). */
  data(piece: Buffer): void;
  /** The message is complete. */
  end(): void;
}

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_CONTINUATION = 0x0;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
/** RFC 6455 close codes: protocol error, unsupported data, message too big. */
const PROTOCOL_ERROR = 1002;
const UNSUPPORTED_DATA = 1003;
const MESSAGE_TOO_BIG = 1009;
const NO_STATUS = 1005;
const ABNORMAL = 1006;
/** How long a close we sent may wait for the agent's before the socket is cut. */
const CLOSE_WAIT_MS = 5000;

/** Answers an upgrade request with 101 when it is a WebSocket one (version 13); false otherwise. */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex): boolean {
  const key = req.headers['sec-websocket-key'];
  const upgrade = req.headers.upgrade?.toLowerCase();
  if (upgrade !== 'websocket' || req.headers['sec-websocket-version'] !== '13') return false;
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key)) return false;
  const accept = createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  return true;
}

export class LinkSocket {
  private readonly stream: Duplex;
  private readonly pieces: MessagePieces;
  private readonly maxMessageBytes: number;
  private readonly closeListeners: Array<(code: number, reason: Buffer) => void> = [];
  // The frame being read: its header (at most 14 bytes) until complete, then its payload.
  private readonly head = Buffer.alloc(14);
  private headHave = 0;
  private headNeed = 2;
  private inPayload = false;
  private opcode = 0;
  private fin = false;
  private readonly mask = Buffer.alloc(4);
  private masked = false;
  private maskAt = 0;
  private left = 0;
  private control: Buffer[] = [];
  /** A data message is under way (its first frame came, its final one not yet). */
  private inMessage = false;
  private messageBytes = 0;
  private sentClose = false;
  private failed = false;
  private closeCode = ABNORMAL;
  private closeReason: Buffer = Buffer.alloc(0);
  private done = false;

  /** `head`: bytes that followed the upgrade request, already the first frames. */
  constructor(stream: Duplex, head: Buffer, pieces: MessagePieces, maxMessageBytes: number) {
    this.stream = stream;
    this.pieces = pieces;
    this.maxMessageBytes = maxMessageBytes;
    const socket = stream as Duplex & {
      setTimeout?: (ms: number) => void;
      setNoDelay?: (on: boolean) => void;
    };
    socket.setTimeout?.(0);
    socket.setNoDelay?.(true);
    if (!takeReusedReads(stream, (chunk) => this.read(chunk)))
      stream.on('data', (chunk: Buffer) => this.read(chunk));
    stream.on('end', () => stream.end());
    stream.on('error', () => stream.destroy());
    stream.on('close', () => this.finish());
    if (head.length > 0) this.read(head);
  }

  onClose(listener: (code: number, reason: Buffer) => void): void {
    this.closeListeners.push(listener);
  }

  /** Sends one binary message made of `parts`, written together without joining them. */
  send(parts: readonly Uint8Array[]): void {
    if (this.sentClose || this.done) return;
    let length = 0;
    for (const part of parts) length += part.length;
    this.writeFrame(OP_BINARY, parts, length);
  }

  /** Starts the closing handshake; the socket ends when the agent answers, or after CLOSE_WAIT_MS. */
  close(code: number, reason: string): void {
    if (this.sentClose || this.done) return;
    this.sendClose(code, Buffer.from(reason));
    setTimeout(() => this.stream.destroy(), CLOSE_WAIT_MS).unref();
  }

  terminate(): void {
    this.stream.destroy();
  }

  private read(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.failed) {
      if (!this.inPayload) {
        const take = Math.min(this.headNeed - this.headHave, chunk.length - at);
        chunk.copy(this.head, this.headHave, at, at + take);
        this.headHave += take;
        at += take;
        if (this.headHave === this.headNeed) this.parseHead();
        continue;
      }
      const n = Math.min(this.left, chunk.length - at);
      const piece = chunk.subarray(at, at + n);
      at += n;
      this.left -= n;
      this.payload(piece);
      if (this.left === 0) this.frameDone();
    }
  }

  /** Reads the frame header once `headNeed` bytes of it are in; may ask for more first. */
  private parseHead(): void {
    const b0 = this.head[0]!;
    const b1 = this.head[1]!;
    const len7 = b1 & 0x7f;
    const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
    if (this.headHave < need) {
      this.headNeed = need;
      return;
    }
    this.fin = (b0 & 0x80) !== 0;
    this.opcode = b0 & 0x0f;
    this.masked = (b1 & 0x80) !== 0;
    const length =
      len7 === 126 ? this.head.readUInt16BE(2) : len7 === 127 ? Number(this.head.readBigUInt64BE(2)) : len7;
    if (this.masked) this.head.copy(this.mask, 0, need - 4, need);
    const problem = this.problemWith(b0, length);
    if (problem !== undefined) {
      this.fail(problem);
      return;
    }
    this.inPayload = true;
    this.maskAt = 0;
    this.left = length;
    if (length === 0) this.frameDone();
  }

  /** The close code a frame with this header earns, if it is not one a client may send now. */
  private problemWith(b0: number, length: number): number | undefined {
    // A client masks every frame (RFC 6455 §5.1); the agent's key is all zeros, which costs nothing.
    if ((b0 & 0x70) !== 0 || !this.masked) return PROTOCOL_ERROR;
    if (this.opcode >= OP_CLOSE)
      return !this.fin || length > 125 || this.opcode > OP_PONG ? PROTOCOL_ERROR : undefined;
    if (this.opcode !== OP_CONTINUATION && this.opcode !== OP_BINARY) return UNSUPPORTED_DATA;
    if ((this.opcode === OP_CONTINUATION) !== this.inMessage) return PROTOCOL_ERROR;
    this.inMessage = true;
    this.messageBytes += length;
    return this.messageBytes > this.maxMessageBytes ? MESSAGE_TOO_BIG : undefined;
  }

  private payload(piece: Buffer): void {
    if (this.mask.readUInt32BE(0) !== 0) {
      // Unmasked in place: the read buffer is ours alone.
      for (let i = 0; i < piece.length; i++) piece[i]! ^= this.mask[(this.maskAt + i) & 3]!;
      this.maskAt = (this.maskAt + piece.length) & 3;
    }
    if (this.opcode >= OP_CLOSE) this.control.push(Buffer.from(piece));
    else if (piece.length > 0) this.deliver(() => this.pieces.data(piece));
  }

  private frameDone(): void {
    this.inPayload = false;
    this.headHave = 0;
    this.headNeed = 2;
    if (this.opcode >= OP_CLOSE) {
      const payload = Buffer.concat(this.control);
      this.control = [];
      this.controlFrame(payload);
    } else if (this.fin) {
      this.inMessage = false;
      this.messageBytes = 0;
      this.deliver(() => this.pieces.end());
    }
  }

  private controlFrame(payload: Buffer): void {
    if (this.opcode === OP_PING) this.writeFrame(OP_PONG, [payload], payload.length);
    if (this.opcode !== OP_CLOSE) return;
    this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : NO_STATUS;
    this.closeReason = payload.subarray(2);
    // Their close answers ours, or we answer theirs; either way the handshake is over and we hang up.
    if (!this.sentClose) this.sendClose(payload.length >= 2 ? this.closeCode : 1000, Buffer.alloc(0));
    this.failed = true; // nothing after a close frame is read
    this.stream.end();
    // The link is over now, not when the socket has closed: an environment that ends itself (ADR-52) writes
    // its last result and its close together, and no call may be sent to it between them and its exit.
    this.finish();
  }

  /** A message the link cannot read (a broken frame, a bad header) ends the link: it cannot resync. */
  private deliver(step: () => void): void {
    try {
      step();
    } catch {
      this.fail(PROTOCOL_ERROR);
    }
  }

  private fail(code: number): void {
    if (this.failed) return;
    this.failed = true;
    this.closeCode = code;
    if (!this.sentClose) this.sendClose(code, Buffer.alloc(0));
    this.stream.end();
    setTimeout(() => this.stream.destroy(), CLOSE_WAIT_MS).unref();
  }

  private sendClose(code: number, reason: Buffer): void {
    this.sentClose = true;
    const payload = Buffer.allocUnsafe(2 + reason.length);
    payload.writeUInt16BE(code, 0);
    reason.copy(payload, 2);
    this.writeFrame(OP_CLOSE, [payload], payload.length);
  }

  /** A server's frame is never masked; header and parts go out in one writev. */
  private writeFrame(opcode: number, parts: readonly Uint8Array[], length: number): void {
    if (this.done || this.stream.writableEnded) return;
    const head = Buffer.allocUnsafe(length < 126 ? 2 : length < 65536 ? 4 : 10);
    head[0] = 0x80 | opcode;
    if (length < 126) head[1] = length;
    else if (length < 65536) {
      head[1] = 126;
      head.writeUInt16BE(length, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(length), 2);
    }
    this.stream.cork();
    this.stream.write(head);
    for (const part of parts) if (part.length > 0) this.stream.write(part);
    this.stream.uncork();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const listener of this.closeListeners) listener(this.closeCode, this.closeReason);
  }
}
