// Resolves a mapping's connection credentials, which never live in manifest text: a `secretRef` is read from
// a Kubernetes Secret in the mapping's namespace (cluster) or from the gateway's environment (local), SQS keys
// come from the gateway's environment. Kinds ask on every connect, so a changed or newly created Secret is
// picked up when the mapping reconnects. Errors name the Secret and key, never a value.
import type { GatewayConfig } from '../config.ts';
import type { MappingDefinition } from './mapping.ts';
import type { Credentials } from './source-kind.ts';

export interface SecretKeyRef {
  name: string;
  key: string;
}

/** Reads one key of a Secret in `namespace`; throws CredentialsError when it cannot. */
export type SecretReader = (namespace: string, ref: SecretKeyRef) => Promise<string>;

/** Credentials that could not be read (missing Secret or key, no permission): shown on the status as such. */
export class CredentialsError extends Error {}

/** Local mode: `secretRef {name, key}` is the environment variable SERVAL_SECRET_<NAME>_<KEY>. */
export function secretEnvName(ref: SecretKeyRef): string {
  const part = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return `SERVAL_SECRET_${part(ref.name)}_${part(ref.key)}`;
}

export function environmentSecrets(secrets: GatewayConfig['eventSourceSecrets']): SecretReader {
  return async (_namespace, ref) => {
    const name = secretEnvName(ref);
    const value = secrets[name];
    if (value === undefined)
      throw new CredentialsError(
        `secret ${ref.name} key ${ref.key}: set ${name} in the gateway's environment`,
      );
    return value;
  };
}

export function credentialResolver(
  config: Pick<GatewayConfig, 'natsUrl' | 'eventSourceCredentials'>,
  readSecret: SecretReader,
): (definition: MappingDefinition) => Promise<Credentials> {
  return async ({ namespace, spec }) => {
    const rabbitRef = spec.source.rabbitmq?.secretRef;
    if (rabbitRef) return { url: await readSecret(namespace, rabbitRef) };
    // A NATS source without a URL uses the gateway's own NATS.
    if (spec.source.nats) return { url: config.natsUrl };
    return config.eventSourceCredentials;
  };
}
