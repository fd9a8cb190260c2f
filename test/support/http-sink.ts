// A real HTTP endpoint that keeps every request it receives: the destination tests' receiving end.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SunkRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpSink {
  url: string;
  requests: SunkRequest[];
  /** Waits until `count` requests arrived on `path`. */
  waitFor(path: string, count?: number, timeoutMs?: number): Promise<SunkRequest[]>;
  close(): Promise<void>;
}

export async function startHttpSink(status = 200): Promise<HttpSink> {
  const requests: SunkRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    async waitFor(path, count = 1, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const got = requests.filter((r) => r.path === path);
        if (got.length >= count) return got;
        if (Date.now() > until)
          throw new Error(`${got.length} of ${count} requests on ${path} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
