// What a SigV4 request says about itself, read from the Authorization header or the presigned query
// (X-Amz-Algorithm, X-Amz-Credential, …) before anything is checked. Malformed parts are refused here.

import { ALGORITHM, type Scope, type WireRequest } from '../../../../apis/sigv4.ts';
import { ACCESS_KEY_ID } from '../access-keys/access-key.ts';
import { SignatureError } from './signature-error.ts';

export interface SignedClaim {
  form: 'header' | 'query';
  accessKeyId: string;
  scope: Scope;
  terminator: string;
  /** `yyyymmddThhmmssZ` */
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  /** Presigned only: seconds the signature stays valid after amzDate. */
  expiresSeconds?: number | undefined;
}

/** AWS's limit for a presigned request: seven days. */
export const MAX_PRESIGNED_SECONDS = 7 * 24 * 3600;

const AMZ_DATE = /^\d{8}T\d{6}Z$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

const incomplete = (message: string, accessKeyId?: string) =>
  new SignatureError('IncompleteSignatureException', 'malformed', message, accessKeyId);

/** Whether the request carries SigV4 at all (either form, or another AWS algorithm). */
export function isSigV4(request: WireRequest): boolean {
  const authorization = request.headers.authorization?.[0] ?? '';
  if (/^AWS4-/i.test(authorization)) return true;
  const q = request.url.indexOf('?');
  return q >= 0 && /(?:^|&)X-Amz-(?:Algorithm|Signature|Credential)=/i.test(request.url.slice(q + 1));
}

/** Reads the claim; throws IncompleteSignatureException (or UnrecognizedClient for a session token). */
export function readClaim(request: WireRequest): SignedClaim {
  const authorizations = request.headers.authorization ?? [];
  const q = request.url.indexOf('?');
  const query = new URLSearchParams(q < 0 ? '' : request.url.slice(q + 1));
  const presigned =
    query.has('X-Amz-Algorithm') || query.has('X-Amz-Signature') || query.has('X-Amz-Credential');
  if (authorizations.length > 1) throw incomplete('The request must carry one Authorization header.');
  if (presigned && authorizations.length > 0) {
    throw incomplete(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified',
    );
  }
  if (request.headers['x-amz-security-token'] !== undefined || query.has('X-Amz-Security-Token')) {
    throw new SignatureError(
      'UnrecognizedClientException',
      'session-token',
      'The security token included in the request is invalid: Serval access keys have no session token (unset AWS_SESSION_TOKEN).',
    );
  }
  return presigned ? fromQuery(query) : fromHeader(authorizations[0] ?? '', request);
}

function fromHeader(authorization: string, request: WireRequest): SignedClaim {
  const space = authorization.indexOf(' ');
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== ALGORITHM) {
    throw new SignatureError(
      'IncompleteSignatureException',
      'unsupported-algorithm',
      `Unsupported AWS signing algorithm; only ${ALGORITHM} is accepted.`,
    );
  }
  const parts = new Map<string, string>();
  for (const piece of authorization.slice(space + 1).split(',')) {
    const trimmed = piece.trim();
    const eq = trimmed.indexOf('=');
    if (eq <= 0) continue;
    const name = trimmed.slice(0, eq);
    if (parts.has(name))
      throw incomplete(`Authorization header has '${printableName(name)}' more than once.`);
    parts.set(name, trimmed.slice(eq + 1));
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders']
    .filter((p) => !parts.get(p))
    .map((p) => `Authorization header requires '${p}' parameter.`);
  const amzDates = request.headers['x-amz-date'] ?? [];
  if (amzDates.length !== 1) {
    missing.push("Authorization header requires existence of an 'X-Amz-Date' header.");
  }
  if (missing.length > 0) throw incomplete(missing.join(' '));
  const credential = credentialOf(parts.get('Credential')!);
  return {
    form: 'header',
    ...credential,
    amzDate: amzDateOf(amzDates[0]!, credential.accessKeyId),
    signedHeaders: signedHeadersOf(parts.get('SignedHeaders')!, credential.accessKeyId),
    signature: parts.get('Signature')!,
  };
}

function fromQuery(query: URLSearchParams): SignedClaim {
  const one = (name: string): string | undefined => {
    const values = query.getAll(name);
    if (values.length > 1) throw incomplete(`The query parameter ${name} is given more than once.`);
    return values[0] || undefined;
  };
  const algorithm = one('X-Amz-Algorithm');
  const missing = [
    'X-Amz-Algorithm',
    'X-Amz-Credential',
    'X-Amz-Date',
    'X-Amz-Expires',
    'X-Amz-SignedHeaders',
    'X-Amz-Signature',
  ].filter((p) => one(p) === undefined);
  if (missing.length > 0) {
    throw incomplete(`A presigned request requires the query parameters ${missing.join(', ')}.`);
  }
  if (algorithm !== ALGORITHM) {
    throw new SignatureError(
      'IncompleteSignatureException',
      'unsupported-algorithm',
      `X-Amz-Algorithm only supports ${ALGORITHM}.`,
    );
  }
  const credential = credentialOf(one('X-Amz-Credential')!);
  const expires = Number(one('X-Amz-Expires'));
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGNED_SECONDS) {
    throw incomplete(
      `X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_PRESIGNED_SECONDS}.`,
      credential.accessKeyId,
    );
  }
  return {
    form: 'query',
    ...credential,
    amzDate: amzDateOf(one('X-Amz-Date')!, credential.accessKeyId),
    signedHeaders: signedHeadersOf(one('X-Amz-SignedHeaders')!, credential.accessKeyId),
    signature: one('X-Amz-Signature')!,
    expiresSeconds: expires,
  };
}

function credentialOf(credential: string): Pick<SignedClaim, 'accessKeyId' | 'scope' | 'terminator'> {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw incomplete(
      'Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/aws4_request.',
    );
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  return { accessKeyId, scope: { date, region, service }, terminator };
}

function amzDateOf(value: string, accessKeyId: string): string {
  if (!AMZ_DATE.test(value) || Number.isNaN(dateOf(value))) {
    throw incomplete(
      "X-Amz-Date must be in the ISO 8601 basic format 'yyyyMMddTHHmmssZ'.",
      keyIdForLog(accessKeyId),
    );
  }
  return value;
}

/** Milliseconds since the epoch of a `yyyymmddThhmmssZ` date; NaN when it names no real time. */
export function dateOf(amzDate: string): number {
  const [y, mo, d, h, mi, s] = [0, 4, 6, 9, 11, 13].map((at, i) =>
    Number(amzDate.slice(at, at + (i === 0 ? 4 : 2))),
  ) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return new Date(ms).getUTCDate() === d && h < 24 && mi < 60 && s < 60 ? ms : Number.NaN;
}

function signedHeadersOf(value: string, accessKeyId: string): string[] {
  const names = value.split(';');
  if (names.length > 64 || names.some((n) => !HEADER_NAME.test(n))) {
    throw incomplete(
      'SignedHeaders must be lower-case header names separated by semicolons.',
      keyIdForLog(accessKeyId),
    );
  }
  if (!names.includes('host')) {
    throw incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.", keyIdForLog(accessKeyId));
  }
  return names;
}

export const keyIdForLog = (accessKeyId: string): string | undefined =>
  ACCESS_KEY_ID.test(accessKeyId) ? accessKeyId : undefined;

const printableName = (name: string) => name.replace(/[^A-Za-z0-9-]/g, '?').slice(0, 32);
