// Writes a streamed chunk's link message onto the local link's socket as one WebSocket frame of our own:
// `ws` framed each part as a fragment of its own (a header buffer, an options object and a socket write
// apiece), a fifth of the agent's CPU on a stream (ADR-53). The frame is a client's, masked with the
// all-zero key the link's `ws` client uses too (ADR-38), so the gateway reads it as any other.
import type { Socket } from 'node:net';

const FIN_BINARY = 0x82;
const MASKED = 0x80;

/**
 * Writes `[WebSocket header][link header][parts…]` in one writev. Returns undefined when the socket took
 * every byte at once (nothing is queued on it), else a promise for when it has: the parts' memory may be
 * reused only then. Only whole messages go this way, never between a `ws` message's fragments: `ws`
 * writes each of its messages to the socket at once (no compression, no blobs).
 */
export function writeLinkFrame(
  wire: Socket,
  header: Buffer,
  parts: readonly Uint8Array[],
): Promise<void> | undefined {
  let length = header.length;
  for (const part of parts) length += part.length;
  const extended = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + extended + 4); // the mask key's 4 bytes stay zero
  head[0] = FIN_BINARY;
  if (extended === 0) head[1] = MASKED | length;
  else if (extended === 2) {
    head[1] = MASKED | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = MASKED | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  let written: (() => void) | undefined;
  const done = new Promise<void>((resolve) => {
    written = resolve;
  });
  wire.cork();
  wire.write(head);
  wire.write(header);
  // Resolved on error too: the link is then lost, and whoever waits must not wait for ever.
  for (const part of parts) wire.write(part);
  wire.write(EMPTY, () => written!());
  wire.uncork();
  return wire.writableLength === 0 ? undefined : done;
}

const EMPTY = Buffer.alloc(0);
