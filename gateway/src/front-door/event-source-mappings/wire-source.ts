// How Lambda's request fields name a source (EventSourceArn, Queues, Topics, SourceAccessConfigurations)
// and back. One entry per kind; a kind without an entry cannot be created through the API (a manifest or
// the CRD still can).
import type { EventSource } from '../../../../apis/event-source-mapping.ts';

export interface WireSource {
  EventSourceArn?: string;
  Queues?: string[];
  Topics?: string[];
  SourceAccessConfigurations?: Array<{ Type?: string; URI?: string }>;
  SelfManagedEventSource?: { Endpoints?: { KAFKA_BOOTSTRAP_SERVERS?: string[] } };
  SelfManagedKafkaEventSourceConfig?: { ConsumerGroupId?: string };
}

interface WireKind {
  /** The source this request names, or undefined when it is not this kind's form. */
  read(body: WireSource): EventSource | undefined;
  write(source: EventSource): WireSource;
}

const SQS_ARN = /^arn:aws:sqs:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,80}(\.fifo)?)$/;

const basicAuth = (body: WireSource) =>
  body.SourceAccessConfigurations?.find((c) => c.Type === 'BASIC_AUTH')?.URI;

export const WIRE_KINDS: WireKind[] = [
  {
    // An SQS ARN (AWS's endpoint), or the queue URL of any SQS-compatible server; a BASIC_AUTH entry names
    // the Secret holding the access keys (Serval's own: Lambda uses the execution role).
    read(body) {
      const arn = body.EventSourceArn ?? '';
      const m = SQS_ARN.exec(arn);
      const queueUrl = m
        ? `https://sqs.${m[1]}.amazonaws.com/${m[2]}/${m[3]}`
        : /^https?:\/\//.test(arn)
          ? arn
          : undefined;
      if (queueUrl === undefined) return undefined;
      const secret = basicAuth(body);
      return { sqs: { queueUrl, ...(secret ? { credentialsSecretRef: { name: secret } } : {}) } };
    },
    write: (s) =>
      s.sqs
        ? {
            EventSourceArn: s.sqs.queueUrl,
            ...(s.sqs.credentialsSecretRef
              ? { SourceAccessConfigurations: [{ Type: 'BASIC_AUTH', URI: s.sqs.credentialsSecretRef.name }] }
              : {}),
          }
        : {},
  },
  {
    // An amqp(s) broker URL (or an MQ broker ARN with a BASIC_AUTH Secret holding the URL), and one queue.
    read(body) {
      const arn = body.EventSourceArn ?? '';
      if (!/^(amqps?:\/\/|arn:aws:mq:)/.test(arn)) return undefined;
      const secret = basicAuth(body);
      return {
        rabbitmq: {
          ...(secret ? { secretRef: { name: secret, key: 'url' } } : { url: arn }),
          queue: body.Queues?.[0] ?? '',
        },
      };
    },
    write(s) {
      if (!s.rabbitmq) return {};
      return {
        EventSourceArn: s.rabbitmq.url ? redactUrl(s.rabbitmq.url) : `secret:${s.rabbitmq.secretRef?.name}`,
        Queues: [s.rabbitmq.queue],
        ...(s.rabbitmq.secretRef
          ? { SourceAccessConfigurations: [{ Type: 'BASIC_AUTH', URI: s.rabbitmq.secretRef.name }] }
          : {}),
      };
    },
  },
  {
    // Self-managed Kafka as Lambda names it: bootstrap servers in SelfManagedEventSource, one topic in Topics.
    read(body) {
      const servers = body.SelfManagedEventSource?.Endpoints?.KAFKA_BOOTSTRAP_SERVERS;
      if (servers === undefined) return undefined;
      const group = body.SelfManagedKafkaEventSourceConfig?.ConsumerGroupId;
      return {
        kafka: {
          bootstrapServers: servers,
          topic: body.Topics?.[0] ?? '',
          ...(group ? { consumerGroup: group } : {}),
        },
      };
    },
    write(s) {
      if (!s.kafka) return {};
      return {
        SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: s.kafka.bootstrapServers } },
        Topics: [s.kafka.topic],
        ...(s.kafka.consumerGroup
          ? { SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: s.kafka.consumerGroup } }
          : {}),
      };
    },
  },
  {
    // A NATS server URL (or `nats://` with a BASIC_AUTH Secret holding the URL), the subject in Topics and
    // the JetStream stream in Queues.
    read(body) {
      const arn = body.EventSourceArn ?? '';
      if (!/^(nats|tls):\/\//.test(arn)) return undefined;
      const stream = body.Queues?.[0];
      const secret = basicAuth(body);
      return {
        nats: {
          ...(secret ? { secretRef: { name: secret, key: 'url' } } : { url: arn }),
          subject: body.Topics?.[0] ?? '',
          ...(stream ? { stream } : {}),
        },
      };
    },
    write(s) {
      if (!s.nats) return {};
      return {
        EventSourceArn: s.nats.url ? redactUrl(s.nats.url, true) : 'nats://',
        Topics: [s.nats.subject],
        ...(s.nats.stream ? { Queues: [s.nats.stream] } : {}),
        ...(s.nats.secretRef
          ? { SourceAccessConfigurations: [{ Type: 'BASIC_AUTH', URI: s.nats.secretRef.name }] }
          : {}),
      };
    },
  },
];

export function sourceFromWire(body: WireSource): EventSource | undefined {
  for (const kind of WIRE_KINDS) {
    const source = kind.read(body);
    if (source) return source;
  }
  return undefined;
}

export function sourceToWire(source: EventSource): WireSource {
  for (const kind of WIRE_KINDS) {
    const wire = kind.write(source);
    if (Object.keys(wire).length > 0) return wire;
  }
  return {};
}

/** A URL's password never leaves the gateway, nor a NATS token (`nats://<token>@host`). */
function redactUrl(url: string, tokenAsUser = false): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    else if (tokenAsUser && u.username) u.username = '****';
    return u.toString();
  } catch {
    return url;
  }
}
