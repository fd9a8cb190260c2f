// The JetStream connection of one NATS mapping: its own connection (the runtime, not the client, owns
// reconnecting, so an outage shows on the mapping's status), the stream found by subject when the spec names
// none, and the mapping's durable pull consumer created or updated to match the spec.
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { EventSourceMappingSpec } from '../../../../apis/event-source-mapping.ts';
import { CredentialsError } from '../credentials.ts';

const NS_PER_MS = 1_000_000;
/** How long a delivered message may go unacknowledged before JetStream redelivers it. */
export const ACK_WAIT_MS = 60_000;

export interface NatsSource {
  nc: NatsConnection;
  jsm: JetStreamManager;
  stream: string;
  consumer: string;
  subject: string;
  /** JetStream's max_deliver: attempts before it stops redelivering (-1: no limit). */
  maxDeliver: number;
  /** maximumRecordAgeSeconds in ms: a failed record older than this is not redelivered (-1: no limit). */
  maxRecordAgeMs: number;
}

export function consumerName(spec: EventSourceMappingSpec, mappingName: string): string {
  return spec.source.nats?.consumer ?? `serval-${mappingName}`;
}

export async function openNats(
  url: string,
  spec: EventSourceMappingSpec,
  mappingName: string,
): Promise<NatsSource> {
  const nats = spec.source.nats!;
  const nc = await connect({
    ...serversAndLogin(url),
    name: `serval-esm-${mappingName}`,
    maxReconnectAttempts: 0,
  });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = nats.stream ?? (await jsm.streams.find(nats.subject));
    const consumer = consumerName(spec, mappingName);
    const maxDeliver = spec.maximumRetryAttempts === -1 ? -1 : spec.maximumRetryAttempts + 1;
    const config: Partial<ConsumerConfig> = {
      durable_name: consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ACK_WAIT_MS * NS_PER_MS,
      filter_subject: nats.subject,
      max_deliver: maxDeliver,
      max_ack_pending: 10_000,
      ...deliverPolicy(spec),
    };
    try {
      await jsm.consumers.info(stream, consumer);
      // An existing consumer keeps its position; only what may change is updated.
      await jsm.consumers.update(stream, consumer, { ack_wait: config.ack_wait, max_deliver: maxDeliver });
    } catch {
      await jsm.consumers.add(stream, config);
    }
    const maxAge = spec.maximumRecordAgeSeconds;
    const maxRecordAgeMs = maxAge === -1 ? -1 : maxAge * 1000;
    return { nc, jsm, stream, consumer, subject: nats.subject, maxDeliver, maxRecordAgeMs };
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The client takes no credentials from server URLs, so `nats://user:pass@host` (user and password) and
 * `nats://token@host` (a token) are read here, and the servers given without them.
 */
export function serversAndLogin(url: string): {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
} {
  let login: { user?: string; pass?: string; token?: string } = {};
  const servers = url.split(',').map((server) => {
    if (!server.includes('@')) return server;
    const u = new URL(server);
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    login = u.password === '' ? { token: user } : { user, pass };
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  });
  return { servers, ...login };
}

/** A login the server refused is a credentials problem (status CredentialsRejected), not an outage. */
export function refusedLogin(err: unknown, spec: EventSourceMappingSpec, namespace: string): unknown {
  if ((err as { name?: unknown } | null)?.name !== 'AuthorizationError') return err;
  const ref = spec.source.nats?.secretRef;
  const from = ref ? `the URL in Secret ${namespace}/${ref.name}` : 'the URL';
  return new CredentialsError(`${from} (authorization violation)`, { rejected: true });
}

export function consumerOf(source: NatsSource) {
  return jetstream(source.nc).consumers.get(source.stream, source.consumer);
}

function deliverPolicy(spec: EventSourceMappingSpec): Partial<ConsumerConfig> {
  switch (spec.startingPosition) {
    case 'LATEST':
      return { deliver_policy: DeliverPolicy.New };
    case 'AT_TIMESTAMP':
      return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: spec.startingPositionTimestamp };
    default:
      return { deliver_policy: DeliverPolicy.All };
  }
}
