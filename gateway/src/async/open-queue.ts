// Picks the queue backend from configuration.
import type { GatewayConfig } from '../config.ts';
import type { EventQueue } from './event-queue.ts';
import type { NatsLink } from './nats-link.ts';
import { NatsEventQueue } from './nats-queue.ts';
import { SqliteEventQueue } from './sqlite-queue.ts';

export async function openEventQueue(config: GatewayConfig, nats: NatsLink): Promise<EventQueue> {
  if (config.queueBackend === 'nats') {
    return NatsEventQueue.open(await nats.open(), config.natsAckWaitSeconds);
  }
  return new SqliteEventQueue(config.dataDir);
}
