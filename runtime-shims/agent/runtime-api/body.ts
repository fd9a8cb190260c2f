// Reads a runtime's request body with Lambda's payload cap, counting what lies beyond it without keeping it.
import type { IncomingMessage } from 'node:http';

export type BodyRead =
  | { kind: 'ok'; body: Buffer }
  | { kind: 'too-large'; size: number }
  | { kind: 'truncated' };

export function readCappedBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  const declared = Number(req.headers['content-length']);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > limit) resolve({ kind: 'too-large', size });
      else resolve({ kind: 'ok', body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    });
    // A client that closes before sending Content-Length bytes sent a truncated request.
    req.on('aborted', () => resolve({ kind: 'truncated' }));
    req.on('error', () => resolve(Number.isFinite(declared) ? { kind: 'truncated' } : { kind: 'truncated' }));
  });
}
