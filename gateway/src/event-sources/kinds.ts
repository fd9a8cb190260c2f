// The source kinds the gateway can poll, one folder each. Adding a kind is one line here plus its folder
// (docs/event-sources.md, "Adding a source kind").
import type { SourceKind as SourceKindName } from '../../../apis/event-source-mapping.ts';
import type { SourceKind } from './source-kind.ts';

export type SourceKinds = Partial<Record<SourceKindName, SourceKind>>;

/** Loaded on demand, so a gateway without mappings of a kind never loads its broker client. */
const LOADERS: Partial<Record<SourceKindName, () => Promise<SourceKind>>> = {
  sqs: async () => (await import('./sqs/index.ts')).sqsKind,
  kafka: async () => (await import('./kafka/index.ts')).kafkaKind,
  nats: async () => (await import('./nats/index.ts')).natsKind,
  rabbitmq: async () => (await import('./rabbitmq/index.ts')).rabbitmqKind,
};

export async function loadSourceKind(kind: SourceKindName): Promise<SourceKind | undefined> {
  return LOADERS[kind]?.();
}
