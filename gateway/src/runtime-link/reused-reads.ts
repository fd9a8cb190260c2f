// A local link's reads land in one buffer reused for every read instead of a fresh one each. A streamed
// response's bytes were the gateway's only allocation per byte left, and V8 collects such buffers only
// with full collections of the gateway's large heap, several per 100 MB (ADR-49). Node reads into a
// buffer of ours only for a socket created with `onread`, so the pipe a provider hands over is rewrapped
// around its handle before the HTTP server parses its upgrade; what reads it must copy what it keeps.
import { Socket, type SocketConstructorOpts } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * One read buffer for every local link: a read is handed on and done with before the next read of any
 * socket, so sharing costs nothing, and it can be large enough to take what a unix socket holds (about
 * 200 KiB) in one read rather than 64 KiB at a time (ADR-53).
 */
const READ_BYTES = 256 * 1024;
let sharedBuffer: Buffer | undefined;

interface Reads {
  deliver: ((bytes: Buffer) => void) | undefined;
}

const rewrapped = new WeakMap<Duplex, Reads>();

/** The same pipe, reading into one reused buffer; any other stream as it is. */
export function withReusedReads(stream: Duplex): Duplex {
  const handle = (stream as { _handle?: unknown })._handle;
  if (!(stream instanceof Socket) || !handle || stream.readableLength > 0) return stream;
  const reads: Reads = { deliver: undefined };
  sharedBuffer ??= Buffer.allocUnsafe(READ_BYTES);
  const buffer = sharedBuffer;
  // `handle` is how Node's own child_process wraps a pipe in a socket; the old wrapper is never read again.
  const options: SocketConstructorOpts = {
    handle: handle as SocketConstructorOpts['handle'],
    readable: true,
    writable: true,
    onread: {
      buffer,
      callback: (n) => {
        reads.deliver?.(buffer.subarray(0, n));
        return true;
      },
    },
  };
  const socket = new Socket(options);
  // The old wrapper may still try to read the handle the new one has closed (child_process resumes its
  // stdio when the child exits); what it reports then is about nothing it owns any more.
  stream.on('error', () => {});
  rewrapped.set(socket, reads);
  return socket;
}

/** Routes the reads of a rewrapped pipe to `deliver` (each valid during the call only); false for others. */
export function takeReusedReads(stream: Duplex, deliver: (bytes: Buffer) => void): boolean {
  const reads = rewrapped.get(stream);
  if (!reads) return false;
  reads.deliver = deliver;
  return true;
}
