// Writes link messages and log lines synchronously, straight to their file descriptors: what an in-process
// environment says when its event loop will not run again (a process 'exit' hook, a timeout that must end a
// handler spinning on the loop). The bytes are whole WebSocket client frames with the all-zero mask the
// agent's `ws` client uses (ADR-38), so the gateway reads them as any other message.
import { writeSync } from 'node:fs';
import { type AgentMessage, encodeFrame } from '../../../apis/environment-link.ts';

/** How long a full socket buffer may hold up the last words before they are given up. */
export const WRITE_PATIENCE_MS = 2000;

export function webSocketFrame(opcode: number, payload: Uint8Array): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = Buffer.alloc(2 + lengthBytes + 4 + length);
  frame[0] = 0x80 | opcode; // FIN
  if (lengthBytes === 0) frame[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  // Bytes 2+lengthBytes .. +4 are the mask, left zero: the payload goes as it is.
  frame.set(payload, 2 + lengthBytes + 4);
  return frame;
}

export function messageFrame(message: AgentMessage, body?: Uint8Array): Buffer {
  return webSocketFrame(0x2, encodeFrame(message, body));
}

/** A close frame: after it the gateway takes no result as pending and starts no call here. */
export function closeFrame(code: number, reason: string): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return webSocketFrame(0x8, payload);
}

/** Writes all of `data` to a (non-blocking) descriptor, waiting out a full buffer for a bounded time. */
export function writeAllSync(fd: number, data: Uint8Array): boolean {
  const giveUpAt = Date.now() + WRITE_PATIENCE_MS;
  let at = 0;
  while (at < data.length) {
    try {
      at += writeSync(fd, data, at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > giveUpAt) return false;
    }
  }
  return true;
}
