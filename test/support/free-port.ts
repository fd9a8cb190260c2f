// A loopback port nobody listens on right now, for servers that must be told their port up front.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A server exited before it was ready: most often its port, free when picked, was taken since. */
export class ExitedEarly extends Error {}

/**
 * Runs `start` on `count` ports from freePort(). A port is only free when picked, and parallel suites pick
 * too, so a start that throws ExitedEarly is tried again on new ports (three tries in all).
 */
export async function onFreshPorts<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) ports.push(await freePort());
    try {
      return await start(ports);
    } catch (e) {
      if (!(e instanceof ExitedEarly) || attempt === 3) throw e;
    }
  }
}
