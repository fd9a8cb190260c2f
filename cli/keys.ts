// `serval keys …`: Serval-issued access keys for SigV4 (the AWS CLI and SDKs), a thin client of
// /serval/v1/access-keys.
import { type ControlOptions, operatorCall } from './control.ts';

export interface NewKeyOptions {
  identity: string;
  namespace?: string | undefined;
  groups?: string[] | undefined;
  description?: string | undefined;
}

export async function keysCreate(k: NewKeyOptions, o: ControlOptions): Promise<void> {
  const body = { identity: k.identity, namespace: k.namespace, groups: k.groups, description: k.description };
  const key = await operatorCall(o, 'POST', 'access-keys', body);
  o.out(`AccessKeyId      ${key.accessKeyId}`);
  o.out(`SecretAccessKey  ${key.secretAccessKey}`);
  o.out(`Principal        serval:keys:${key.identity} (namespace ${key.namespace})`);
  o.out('The secret is shown only now. Sign with it as with an AWS key, for example:');
  o.out(`  export AWS_ACCESS_KEY_ID=${key.accessKeyId} AWS_SECRET_ACCESS_KEY=<the secret above>`);
}

export async function keysList(namespace: string | undefined, o: ControlOptions): Promise<void> {
  const query = namespace ? `?namespace=${encodeURIComponent(namespace)}` : '';
  const { accessKeys } = (await operatorCall(o, 'GET', `access-keys${query}`)) as {
    accessKeys: {
      accessKeyId: string;
      namespace: string;
      identity: string;
      groups: string[];
      source: string;
      createdAt?: string;
      description?: string;
    }[];
  };
  if (accessKeys.length === 0) {
    o.out('no access keys');
    return;
  }
  for (const k of accessKeys) {
    const groups = k.groups.length ? k.groups.join(',') : '-';
    o.out(
      `${k.accessKeyId}\t${k.namespace}\tserval:keys:${k.identity}\t${groups}\t${k.source}\t${k.createdAt ?? '-'}\t${k.description ?? ''}`,
    );
  }
}

export async function keysRevoke(accessKeyId: string, o: ControlOptions): Promise<void> {
  await operatorCall(o, 'DELETE', `access-keys/${encodeURIComponent(accessKeyId)}`);
  o.out(`revoked ${accessKeyId}`);
}
