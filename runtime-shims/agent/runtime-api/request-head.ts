// The little of an HTTP/1.1 request head the Runtime API's tap needs before node:http parses it: where the
// head ends, how its body is framed, and whether it is a streamed /response. Anything unusual is left to
// node:http alone (`undefined`), which then answers it as it always has.

export type BodyFraming = { kind: 'none' } | { kind: 'length'; bytes: number } | { kind: 'chunked' };

export interface RequestHead {
  method: string;
  /** The request target without its query. */
  path: string;
  framing: BodyFraming;
  header(name: string): string | undefined;
}

/** Where the head ends in `bytes` (just after its blank line), searching from `from`; -1 if not yet. */
export function headEnd(bytes: Buffer, from: number): number {
  const at = bytes.indexOf('\r\n\r\n', Math.max(0, from - 3), 'latin1');
  return at < 0 ? -1 : at + 4;
}

/** The head's request line and the headers that frame its body; undefined for anything out of the ordinary. */
export function parseRequestHead(head: Buffer): RequestHead | undefined {
  const lines = head.toString('latin1', 0, head.length - 4).split('\r\n');
  const requestLine = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!requestLine) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    // A folded line, or one without a name: node:http refuses these, so the tap leaves them to it.
    if (colon <= 0 || line[0] === ' ' || line[0] === '\t') return undefined;
    const name = line.slice(0, colon).toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) return undefined;
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  // Requests node:http answers without a 'request' event, or hands elsewhere, are not followed further.
  const expect = headers.get('expect');
  if (expect && !(expect.length === 1 && expect[0]!.toLowerCase() === '100-continue')) return undefined;
  if (headers.has('upgrade') || requestLine[1] === 'CONNECT') return undefined;
  const framing = framingOf(headers);
  if (!framing) return undefined;
  return {
    method: requestLine[1]!,
    path: requestLine[2]!.split('?')[0]!,
    framing,
    header: (name) => headers.get(name)?.join(', '),
  };
}

/** RFC 9112 §6.3 for a request; undefined where node:http would refuse it (it then does). */
function framingOf(headers: Map<string, string[]>): BodyFraming | undefined {
  const encoding = headers.get('transfer-encoding');
  const length = headers.get('content-length');
  if (encoding) {
    if (length) return undefined;
    const codings = encoding.join(',').split(',');
    return codings.at(-1)!.trim().toLowerCase() === 'chunked' ? { kind: 'chunked' } : undefined;
  }
  if (!length) return { kind: 'none' };
  const values = new Set(
    length
      .join(',')
      .split(',')
      .map((v) => v.trim()),
  );
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) return undefined;
  return { kind: 'length', bytes: Number(only) };
}
