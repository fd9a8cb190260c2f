// Accepts environment links on the internal listener; each credential admits exactly its own environment.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type EnvironmentSpec, LINK_PATH_PREFIX } from '../../../apis/environment-link.ts';
import { AgentConnection } from './agent-connection.ts';
import { acceptWebSocket } from './link-socket.ts';

interface Expected {
  token: Buffer;
  spec: EnvironmentSpec;
  connected: (conn: AgentConnection) => void;
}

export class LinkServer {
  private readonly connections = new Set<AgentConnection>();
  private readonly expected = new Map<string, Expected>();
  private readonly initialisedListeners: Array<(environmentId: string) => void> = [];

  constructor(...servers: Server[]) {
    for (const server of servers)
      server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  /** Registers a credential for an environment about to start; it may be used once. */
  expect(spec: EnvironmentSpec, token: string, connected: (conn: AgentConnection) => void): void {
    this.expected.set(spec.environmentId, { token: Buffer.from(token), spec, connected });
  }

  /** An environment's agent reports its first init done (ADR-48). */
  onInitialised(listener: (environmentId: string) => void): void {
    this.initialisedListeners.push(listener);
  }

  forget(environmentId: string): void {
    this.expected.delete(environmentId);
  }

  linkPath(environmentId: string): string {
    return `${LINK_PATH_PREFIX}${environmentId}/link`;
  }

  close(): void {
    for (const conn of this.connections) conn.terminate();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '';
    const match = /^\/agent\/v1\/environments\/([^/]+)\/link$/.exec(url);
    const expected = match ? this.expected.get(match[1]!) : undefined;
    const presented = Buffer.from((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (
      !expected ||
      presented.length !== expected.token.length ||
      !timingSafeEqual(presented, expected.token)
    ) {
      // Same answer for an unknown environment and a wrong credential: nothing to probe.
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (!acceptWebSocket(req, socket)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.expected.delete(match![1]!);
    const { spec } = expected;
    const conn = new AgentConnection(spec.environmentId, socket, head, spec.maxConcurrency ?? 1, {
      timeoutSeconds: spec.timeoutSeconds,
    });
    this.connections.add(conn);
    conn.onClose(() => this.connections.delete(conn));
    conn.onInitialised(() => {
      for (const l of this.initialisedListeners) l(spec.environmentId);
    });
    conn.send({ type: 'configure', spec });
    expected.connected(conn);
  }
}
