// A Serval-issued access key: an AWS-shaped key id and secret that stand for one principal (a namespace
// and an identity), so the AWS CLI and SDKs can sign requests with SigV4.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Principal } from '../policy.ts';

/** Principal ids of key holders are `serval:keys:<identity>`; no token issuer may take this name. */
export const ACCESS_KEY_ISSUER = 'keys';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** IAM's user-name characters. */
const IDENTITY = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
export const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

export const AccessKeySchema = z
  .object({
    accessKeyId: z.string().regex(ACCESS_KEY_ID, 'must be 16-128 upper-case letters and digits'),
    secretAccessKey: z.string().min(16, 'must be at least 16 characters').max(128),
    namespace: z.string().max(63).regex(NAMESPACE, 'must be a namespace name (a DNS label)'),
    identity: z.string().regex(IDENTITY, 'must be 1-64 letters, digits and +=,.@_-'),
    groups: z.array(z.string().min(1).max(128)).max(50).default([]),
    description: z.string().max(256).optional(),
    createdAt: z.string().optional(),
  })
  .strict();
export type AccessKey = z.infer<typeof AccessKeySchema>;

/** What a key's holder may be told about it later: everything but the secret. */
export type AccessKeySummary = Omit<AccessKey, 'secretAccessKey'>;

export function summary(key: AccessKey): AccessKeySummary {
  const { secretAccessKey: _secret, ...rest } = key;
  return rest;
}

/** Where a verifier finds keys by id. */
export interface KeyLookup {
  get(accessKeyId: string): AccessKey | undefined;
}

export function principalOf(key: AccessKey): Principal {
  return {
    id: `serval:${ACCESS_KEY_ISSUER}:${key.identity}`,
    issuer: ACCESS_KEY_ISSUER,
    subject: key.identity,
    namespace: key.namespace,
    groups: key.groups,
    claims: {},
  };
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A new key id (`AKSV` and 16 base-32 characters, AWS's shape) and a 40-character secret. */
export function newKeyPair(): { accessKeyId: string; secretAccessKey: string } {
  const id = [...randomBytes(16)].map((b) => BASE32[b & 31]).join('');
  return { accessKeyId: `AKSV${id}`, secretAccessKey: randomBytes(30).toString('base64') };
}
