// Random hex ids (X-Ray trace and segment ids) from a pooled buffer: one `randomFillSync` fills ids for
// hundreds of invocations, where `randomBytes` per id cost a call into the CSPRNG and a Buffer each.
// The bytes are the same cryptographic random bytes; each is handed out once.
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `bytes` random bytes as lower-case hex (2 × `bytes` characters). */
export function randomHex(bytes: number): string {
  if (bytes > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} random bytes at once`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}
