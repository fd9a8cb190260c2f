// One NATS connection per gateway, opened on first use: the JetStream queue and NATS destinations share it.
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';

export class NatsLink {
  private readonly servers: string | undefined;
  private connection: Promise<NatsConnection> | undefined;

  constructor(servers: string | undefined) {
    this.servers = servers;
  }

  get configured(): boolean {
    return this.servers !== undefined;
  }

  open(): Promise<NatsConnection> {
    if (!this.servers) {
      return Promise.reject(new Error('NATS is not configured (set SERVAL_NATS_URL)'));
    }
    this.connection ??= connect({
      servers: this.servers.split(','),
      name: 'serval-gateway',
      maxReconnectAttempts: -1,
    });
    return this.connection;
  }

  /** Publishes and waits for the server to have it (a flush round trip). */
  async publish(subject: string, body: Uint8Array, attributes: Record<string, string>): Promise<void> {
    const nc = await this.open();
    const h = headers();
    for (const [k, v] of Object.entries(attributes)) h.set(k, v.replace(/[\r\n]/g, ' '));
    nc.publish(subject, body, Object.keys(attributes).length > 0 ? { headers: h } : undefined);
    await nc.flush();
  }

  async close(): Promise<void> {
    if (!this.connection) return;
    const nc = await this.connection.catch(() => undefined);
    await nc?.drain().catch(() => undefined);
  }
}
