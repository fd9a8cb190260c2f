// Function result → HTTP response for function URLs (reference §5.3): an object with statusCode is a
// response; any other JSON is a 200 application/json body; errors and malformed output are 502 — among
// them a status the gateway cannot send (1xx) and headers or cookies HTTP cannot carry (CR/LF, > U+00FF).
import { type HttpAnswer, isFinalStatus, isValidHeader } from '../http-answer.ts';

export type UrlResponse = HttpAnswer;

export const BAD_GATEWAY: UrlResponse = {
  status: 502,
  headers: [['content-type', 'text/plain; charset=utf-8']],
  body: Buffer.from('Internal Server Error'),
};

export function functionUrlResponse(payload: Buffer): UrlResponse {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return BAD_GATEWAY;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !('statusCode' in value)) {
    return {
      status: 200,
      headers: [['content-type', 'application/json']],
      body: Buffer.from(JSON.stringify(value)),
    };
  }
  const r = value as ResponseHead & { body?: unknown; isBase64Encoded?: unknown };
  const head = responseHead(r);
  if (!head) return BAD_GATEWAY;
  if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') return BAD_GATEWAY;
  const text = typeof r.body === 'string' ? r.body : '';
  const body = r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  const { status, headers } = head;
  if (!headers.some(([k]) => k === 'content-type') && body.length > 0)
    headers.push(['content-type', 'application/json']);
  return { status, headers, body };
}

/** What a function says of its HTTP answer: a buffered result's fields, or a streamed response's prelude. */
export interface ResponseHead {
  statusCode?: unknown;
  headers?: unknown;
  cookies?: unknown;
}

/** Status and headers (cookies as `set-cookie`), or undefined when HTTP cannot carry them. */
export function responseHead(r: ResponseHead): Omit<UrlResponse, 'body'> | undefined {
  const status = Number(r.statusCode);
  if (!isFinalStatus(status)) return undefined;
  const headers: Array<[string, string]> = [];
  if (r.headers !== undefined && r.headers !== null) {
    if (typeof r.headers !== 'object') return undefined;
    for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) {
      if (v === null || v === undefined) continue;
      headers.push([k.toLowerCase(), String(v)]);
    }
  }
  if (r.cookies !== undefined && r.cookies !== null) {
    if (!Array.isArray(r.cookies)) return undefined;
    for (const c of r.cookies) headers.push(['set-cookie', String(c)]);
  }
  if (!headers.every(([k, v]) => isValidHeader(k, v))) return undefined;
  return { status, headers };
}
