// Resolves a mapping's connection credentials, which never live in manifest text: a `secretRef` (RabbitMQ or
// NATS URL) or `credentialsSecretRef` (SQS access keys) is read from a Kubernetes Secret in the mapping's
// namespace (cluster) or from the gateway's environment (local); without one, SQS keys are the gateway's own.
// Kinds ask on every connect, so a changed or newly created Secret is picked up when the mapping reconnects.
// Errors name the Secret and key, never a value.
import type { GatewayConfig } from '../config.ts';
import type { MappingDefinition } from './mapping.ts';
import type { Credentials } from './source-kind.ts';

export interface SecretKeyRef {
  name: string;
  key: string;
}

/**
 * Reads keys of the Secret `name` in `namespace`: every `required` key (a CredentialsError naming the first
 * one missing) and those `optional` keys that exist. One read, so the keys come from one version of it.
 */
export type SecretReader = (
  namespace: string,
  name: string,
  required: readonly string[],
  optional?: readonly string[],
) => Promise<Record<string, string>>;

/**
 * Credentials that could not be read (missing Secret or key, no permission), or that the source refused:
 * shown on the status as such, not as an outage.
 */
export class CredentialsError extends Error {
  readonly rejected: boolean;
  constructor(message: string, options: { rejected?: boolean } = {}) {
    super(message);
    this.rejected = options.rejected ?? false;
  }
}

/** The keys an SQS `credentialsSecretRef` Secret holds. */
export const AWS_KEYS_REQUIRED = ['accessKeyId', 'secretAccessKey'] as const;
export const AWS_KEYS_OPTIONAL = ['sessionToken'] as const;

/** Local mode: key `key` of Secret `name` is the environment variable SERVAL_SECRET_<NAME>_<KEY>. */
export function secretEnvName(ref: SecretKeyRef): string {
  const part = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return `SERVAL_SECRET_${part(ref.name)}_${part(ref.key)}`;
}

export function environmentSecrets(secrets: GatewayConfig['eventSourceSecrets']): SecretReader {
  return async (_namespace, name, required, optional = []) => {
    const values: Record<string, string> = {};
    for (const key of [...required, ...optional]) {
      const variable = secretEnvName({ name, key });
      const value = secrets[variable];
      if (value !== undefined && value !== '') values[key] = value;
      else if (required.includes(key))
        throw new CredentialsError(`secret ${name} key ${key}: set ${variable} in the gateway's environment`);
    }
    return values;
  };
}

export function credentialResolver(
  config: Pick<GatewayConfig, 'natsUrl' | 'eventSourceCredentials'>,
  readSecret: SecretReader,
): (definition: MappingDefinition) => Promise<Credentials> {
  const url = async (namespace: string, ref: SecretKeyRef) =>
    (await readSecret(namespace, ref.name, [ref.key]))[ref.key];
  return async ({ namespace, spec }) => {
    const { rabbitmq, nats, sqs } = spec.source;
    if (rabbitmq?.secretRef) return { url: await url(namespace, rabbitmq.secretRef) };
    // A NATS source without a URL uses the gateway's own NATS.
    if (nats)
      return { url: nats.secretRef ? await url(namespace, nats.secretRef) : (nats.url ?? config.natsUrl) };
    if (sqs?.credentialsSecretRef) {
      const keys = await readSecret(
        namespace,
        sqs.credentialsSecretRef.name,
        AWS_KEYS_REQUIRED,
        AWS_KEYS_OPTIONAL,
      );
      return {
        accessKeyId: keys.accessKeyId,
        secretAccessKey: keys.secretAccessKey,
        sessionToken: keys.sessionToken,
      };
    }
    return config.eventSourceCredentials;
  };
}
