// HTTP request → ALB target event (reference §6.1), in single-value or multi-value header mode, and the
// function's answer → HTTP response (§6.2), validated as the ALB does.
import { createHash } from 'node:crypto';
import {
  type HttpAnswer,
  isFinalStatus,
  isFramingHeader,
  isValidHeader,
  isValidReason,
} from '../http-answer.ts';

export interface AlbRequest {
  method: string;
  path: string;
  /** Raw query string without `?`; values are passed on undecoded, as the ALB does. */
  rawQuery: string;
  headers: Record<string, string[]>;
  body: Buffer;
  multiValue: boolean;
  targetGroupArn: string;
}

const TEXT = /^(text\/|application\/(json|javascript|xml)\b)/i;

export function targetGroupArn(region: string, namespace: string, name: string): string {
  const hash = createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 16);
  return `arn:serval:elasticloadbalancing:${region}:${namespace}:targetgroup/${name.slice(0, 32)}/${hash}`;
}

export function albEvent(r: AlbRequest): Record<string, unknown> {
  const query = rawPairs(r.rawQuery);
  const event: Record<string, unknown> = {
    requestContext: { elb: { targetGroupArn: r.targetGroupArn } },
    httpMethod: r.method,
    path: r.path,
  };
  if (r.multiValue) {
    const mq: Record<string, string[]> = {};
    for (const [k, v] of query) {
      const values = mq[k] ?? [];
      values.push(v);
      mq[k] = values;
    }
    event.multiValueQueryStringParameters = mq;
    event.multiValueHeaders = r.headers;
  } else {
    const q: Record<string, string> = {};
    for (const [k, v] of query) q[k] = v; // the last value wins
    event.queryStringParameters = q;
    event.headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.at(-1) ?? '']));
  }
  const contentType = r.headers['content-type']?.at(-1);
  const base64 =
    r.body.length > 0 &&
    (r.headers['content-encoding'] !== undefined || !contentType || !TEXT.test(contentType));
  event.body = base64 ? r.body.toString('base64') : r.body.toString('utf8');
  event.isBase64Encoded = base64;
  return event;
}

/** Query pairs exactly as sent: split on & and =, nothing decoded. */
function rawPairs(raw: string): Array<[string, string]> {
  if (!raw) return [];
  return raw
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const i = pair.indexOf('=');
      return i < 0 ? [pair, ''] : [pair.slice(0, i), pair.slice(i + 1)];
    });
}

export type AlbResponse = HttpAnswer;

/** The function's answer, or undefined when the ALB would call it invalid (502). */
export function albResponse(payload: Buffer, multiValue: boolean): AlbResponse | undefined {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return undefined;
  const status = Number(r.statusCode);
  if (!isFinalStatus(status)) return undefined;
  if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') return undefined;
  const headers: Array<[string, string]> = [];
  const source = multiValue ? r.multiValueHeaders : r.headers;
  if (source !== undefined && source !== null) {
    if (typeof source !== 'object' || Array.isArray(source)) return undefined;
    for (const [k, v] of Object.entries(source as Record<string, unknown>)) {
      // The ALB ignores hop-by-hop headers and computes Content-Length itself (reference §6.2).
      if (isFramingHeader(k)) continue;
      const values = multiValue ? v : [v];
      if (!Array.isArray(values)) return undefined;
      for (const value of values) {
        if (!isValidHeader(k, String(value))) return undefined;
        headers.push([k.toLowerCase(), String(value)]);
      }
    }
  }
  const text = typeof r.body === 'string' ? r.body : '';
  const body = r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  const description =
    typeof r.statusDescription === 'string' ? r.statusDescription.replace(/^\d+\s*/, '') : undefined;
  if (description !== undefined && !isValidReason(description)) return undefined;
  return { status, statusText: description || undefined, headers, body };
}
