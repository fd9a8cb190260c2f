// Sends bytes exactly as given over TCP and collects the answer: for request lines and framing that no
// HTTP client would produce.
import { connect } from 'node:net';

export interface SocketAnswer {
  /** Everything the server sent before it closed the connection or the wait ended. */
  text: string;
  /** The status code of the first response, or 0 when none arrived. */
  status: number;
  /** Whether the server closed the connection (otherwise the wait ran out). */
  closed: boolean;
}

/**
 * Writes `bytes` and reads until the server closes, `waitMs` passes, or `enough` says the answer is
 * complete (then the socket is closed by us).
 */
export function exchange(
  baseUrl: string,
  bytes: string | Buffer,
  opts: { waitMs?: number; enough?: (text: string) => boolean } = {},
): Promise<SocketAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : 0, closed });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 5_000);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (opts.enough?.(text)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(bytes);
  });
}
