// A connected pair of Unix sockets, both ends the gateway's own handles: one stays the link, the other is
// passed to an in-process environment twice (ADR-54), as an inherited fd its supervisor keeps and over an
// IPC channel, where Node receives it close-on-exec. Node has no socketpair(); a one-shot listener on a
// random abstract name (Linux, no file) accepts the gateway's own connection and closes.
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';

export function linkPair(): Promise<{ gateway: Socket; environment: Socket }> {
  const name = `\0serval-link-${randomBytes(16).toString('hex')}`;
  return new Promise((resolve, reject) => {
    const server = createServer({ pauseOnConnect: true });
    server.once('error', reject);
    server.listen(name, () => {
      const gateway = connect(name);
      gateway.once('error', reject);
      server.once('connection', (environment) => {
        server.close();
        gateway.once('connect', () => resolve({ gateway, environment }));
        if (!gateway.connecting) resolve({ gateway, environment });
      });
    });
  });
}
