// Cluster mode's credentials: keys of a Secret in the mapping's own namespace, read when the mapping
// connects. The chart grants `get` on Secrets only in the namespaces it lists
// (gateway.eventSourceSecrets.namespaces), so a mapping elsewhere gets a clear "may not read" instead.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeError, requestJson } from '../../../kube/request.ts';
import { CredentialsError, type SecretReader } from './credentials.ts';

export function kubernetesSecrets(kc: KubeConfig): SecretReader {
  return async (namespace, name, required, optional = []) => {
    const where = `Secret ${namespace}/${name}`;
    let secret: { data?: Record<string, string> };
    try {
      secret = (await requestJson(
        kc,
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      )) as typeof secret;
    } catch (err) {
      // The API server's own message is not passed on: only what we say here reaches status and logs.
      const status = err instanceof KubeError ? err.status : undefined;
      if (status === 404) throw new CredentialsError(`${where} not found`);
      if (status === 403)
        throw new CredentialsError(
          `the gateway may not read ${where} (list ${namespace} in the chart's gateway.eventSourceSecrets.namespaces)`,
        );
      throw new CredentialsError(
        `${where} could not be read (${status ? `HTTP ${status}` : 'API server unreachable'})`,
      );
    }
    const values: Record<string, string> = {};
    for (const key of [...required, ...optional]) {
      const encoded = secret.data?.[key];
      const value = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8').trim();
      if (value !== '') values[key] = value;
      else if (required.includes(key))
        throw new CredentialsError(
          `${where} has no key ${key}${encoded === undefined ? '' : ' (it is empty)'}`,
        );
    }
    return values;
  };
}
