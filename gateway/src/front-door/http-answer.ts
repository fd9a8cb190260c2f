// A function's HTTP answer (function URLs, ALB) and the one place it is written to the client. The
// gateway owns the framing: status codes are checked, hop-by-hop and length headers from the function are
// dropped and Content-Length is the body's real length, so no function can hang or truncate a response.
import type { ServerResponse } from 'node:http';

export interface HttpAnswer {
  status: number;
  /** The reason phrase (ALB `statusDescription`); Node's default for the status when absent. */
  statusText?: string | undefined;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** Headers that describe one hop's connection or framing, which only the gateway may set. */
const FRAMING = new Set([
  'connection',
  'content-length',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What HTTP/1.1 (and Node) allows in a field value or reason phrase: no CR, LF, NUL or code point above 0xFF. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A final status: an interim 1xx would leave the client waiting for the answer that never follows. */
export function isFinalStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 200 && status <= 599;
}

export function isValidHeader(name: string, value: string): boolean {
  return TOKEN.test(name) && FIELD_VALUE.test(value);
}

export function isValidReason(text: string): boolean {
  return FIELD_VALUE.test(text);
}

/** Whether the function's own header is dropped because the gateway frames the response itself. */
export function isFramingHeader(name: string): boolean {
  return FRAMING.has(name.toLowerCase());
}

/** Writes an answer whose status and headers were checked by the surface that built it. */
export function writeHttpAnswer(res: ServerResponse, answer: HttpAnswer): void {
  setHttpHead(res, answer);
  // 204 and 304 carry no body, so no length either; Node drops the body itself.
  if (answer.status !== 204 && answer.status !== 304) res.setHeader('content-length', answer.body.length);
  res.end(answer.body);
}

/** Sets status and headers without a length: a streamed answer (function URL streaming) goes out chunked. */
export function setHttpHead(res: ServerResponse, head: Omit<HttpAnswer, 'body'>): void {
  res.statusCode = head.status;
  if (head.statusText) res.statusMessage = head.statusText;
  const grouped = new Map<string, string[]>();
  for (const [k, v] of head.headers) {
    if (isFramingHeader(k)) continue;
    const key = k.toLowerCase();
    grouped.set(key, [...(grouped.get(key) ?? []), v]);
  }
  for (const [k, v] of grouped) res.setHeader(k, v.length === 1 ? v[0]! : v);
}
