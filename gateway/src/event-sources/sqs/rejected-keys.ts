// An SQS endpoint that refuses the mapping's access keys is a credentials problem, not an outage: the status
// says so and names where the keys came from (the Secret or the gateway's environment), never a key.
import type { EventSourceMappingSpec } from '../../../../apis/event-source-mapping.ts';
import { CredentialsError } from '../credentials.ts';

/** The error codes SQS (and AWS's auth layer in front of it) answers bad or expired keys with. */
const REJECTED = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'InvalidSecurity',
  'AccessDenied',
  'AccessDeniedException',
]);

/** `err` as a CredentialsError when the endpoint rejected the keys; otherwise `err` unchanged. */
export function rejectedKeys(err: unknown, spec: EventSourceMappingSpec, namespace: string): unknown {
  const code = (err as { name?: unknown } | null)?.name;
  if (typeof code !== 'string' || !REJECTED.has(code)) return err;
  const ref = spec.source.sqs?.credentialsSecretRef;
  const from = ref ? `the keys in Secret ${namespace}/${ref.name}` : "the gateway's AWS_ACCESS_KEY_ID";
  return new CredentialsError(`${from} (${code})`, { rejected: true });
}
