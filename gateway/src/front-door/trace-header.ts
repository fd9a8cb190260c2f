// X-Ray trace headers (reference §13): pass a caller's through, or start a new trace.
import { randomHex } from '../observability/random-hex.ts';

export function traceHeader(incoming: string | undefined): string {
  if (incoming && /Root=1-[0-9a-f]{8}-[0-9a-f]{24}/.test(incoming)) return incoming;
  const epoch = Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0');
  return `Root=1-${epoch}-${randomHex(12)};Parent=${randomHex(8)};Sampled=0`;
}
