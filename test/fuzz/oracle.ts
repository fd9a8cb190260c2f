// The fuzz suite's client and verdicts: a request is sent as raw bytes (so headers may hold anything),
// with `Connection: close` so the server's close marks the end of the answer, and judged by the issue's
// rules — an answer within 5 s, no 5xx other than a surface's documented ones, nothing internal in it.
import { exchange } from '../support/raw-socket.ts';

export interface FuzzRequest {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

export interface FuzzAnswer {
  status: number;
  head: string;
  body: string;
}

/** The longest any answer may take (issue #11: "a hang over 5 s"). */
export const HANG_MS = 5_000;

/** What no answer may carry: stacks, source paths, module paths. */
export const LEAK =
  /node_modules|gateway\/src|runtime-shims\/|\.ts:\d+|\bat [\w$.<>]+ \(|\/work\/|Error: .*\n\s+at /;

export function serialise(r: FuzzRequest): Buffer {
  const lines = [`${r.method} ${r.target} HTTP/1.1`, 'Host: fuzz.local', 'Connection: close'];
  for (const [k, v] of r.headers) lines.push(`${k}: ${v}`);
  lines.push(`Content-Length: ${r.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), r.body]);
}

export async function send(baseUrl: string, bytes: Buffer): Promise<FuzzAnswer | 'hang'> {
  const answer = await exchange(baseUrl, bytes, { waitMs: HANG_MS });
  if (!answer.closed) return 'hang';
  const split = answer.text.indexOf('\r\n\r\n');
  return {
    status: answer.status,
    head: split < 0 ? answer.text : answer.text.slice(0, split),
    body: split < 0 ? '' : answer.text.slice(split + 4),
  };
}

export interface Verdict {
  /** Statuses at or above 500 that the surface documents (function URL and ALB: 502). */
  allowed5xx?: number[];
  /** A function's own error payload may carry its stack (Lambda returns it verbatim); it is not a leak. */
  functionErrorIsPayload?: boolean;
}

/** Why an answer breaks the rules, or undefined when it keeps them. */
export function judge(answer: FuzzAnswer | 'hang', verdict: Verdict = {}): string | undefined {
  if (answer === 'hang') return `no answer within ${HANG_MS} ms`;
  // A connection closed without a status line is a parse refusal only if Node sent nothing at all.
  if (answer.status === 0 && answer.head !== '') return `not an HTTP answer: ${answer.head.slice(0, 200)}`;
  if (answer.status >= 500 && !(verdict.allowed5xx ?? []).includes(answer.status)) {
    return `unexpected ${answer.status}: ${answer.body.slice(0, 300)}`;
  }
  const functionError = /\r\nx-amz-function-error:/i.test(answer.head);
  if (!(functionError && verdict.functionErrorIsPayload) && LEAK.test(answer.body)) {
    return `leaks internals: ${answer.body.slice(0, 300)}`;
  }
  if (LEAK.test(answer.head)) return `leaks internals in headers: ${answer.head.slice(0, 300)}`;
  return undefined;
}
