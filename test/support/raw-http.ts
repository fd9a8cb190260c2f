// A raw HTTP request for tests that must control Host, repeated headers and the exact path (fetch can't).
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  statusMessage: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RawRequest {
  method?: string;
  /** Sent in order; repeated names are sent repeatedly. A `host` entry replaces the default Host. */
  headers?: Array<[string, string]>;
  body?: Buffer | string;
}

export function rawRequest(baseUrl: string, path: string, opts: RawRequest = {}): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: opts.method ?? 'GET', setHost: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    let hasHost = false;
    for (const [k, v] of opts.headers ?? []) {
      if (k.toLowerCase() === 'host') hasHost = true;
      req.appendHeader(k, v);
    }
    if (!hasHost) req.setHeader('host', url.host);
    req.end(opts.body);
  });
}
