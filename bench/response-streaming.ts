// Response streaming's numbers for docs/benchmarks.md: time to first byte through a RESPONSE_STREAM
// function URL over the function's own first write, and a 100 MB stream's rate against a plain Node HTTP
// server streaming the same bytes on loopback in the same run. Run alone with
// `node bench/response-streaming.ts`, or as part of `npm run bench`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { functionUrlId } from '../gateway/src/front-door/function-urls/url-table.ts';
import { ROOT, startServalProcess } from './serval-process.ts';

const TTFB_SAMPLES = Number(process.env.BENCH_STREAM_TTFB_SAMPLES ?? 200);
const STREAM_MB = 100;
const RUNS = 3;
const now = () => performance.timeOrigin + performance.now();

/** GETs `url`, counting bytes without keeping them; `first` sees the first chunk and its arrival time. */
function fetchCounting(url: string, first?: (chunk: Buffer, at: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        if (bytes === 0) first?.(c, now());
        bytes += c.length;
      });
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function rateMBps(url: string): Promise<number> {
  let best = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const bytes = await fetchCounting(url);
    if (bytes !== STREAM_MB * 1024 * 1024) throw new Error(`streamed ${bytes} bytes`);
    best = Math.max(best, bytes / 2 ** 20 / ((performance.now() - started) / 1000));
  }
  return best;
}

/** The loopback baseline: a Node server writing the same 64 KiB chunks with backpressure. */
async function loopbackRate(): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const server = createServer(async (_req, res) => {
    for (let left = STREAM_MB * 16; left > 0; left--) {
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await rateMBps(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    server.close();
  }
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * (p / 100))]!;

export async function responseStreamingBench(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-stream-'));
  const manifests = join(dir, 'manifests');
  mkdirSync(manifests);
  writeFileSync(
    join(manifests, 'stream.yaml'),
    `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: stream}\nspec: {runtime: nodejs24.x, handler: index.handler, timeoutSeconds: 120, url: {invokeMode: RESPONSE_STREAM}, code: {path: ${join(ROOT, 'test/fixtures/functions/node/stream-url')}}}\n`,
  );
  const { url, child } = await startServalProcess(manifests, { SERVAL_DATA_DIR: join(dir, 'data') });
  try {
    const base = `${url}/lambda-url/${functionUrlId('default', 'stream', '$LATEST')}/`;
    const ttfb: number[] = [];
    for (let i = 0; i < TTFB_SAMPLES + 20; i++) {
      let sample = 0;
      await fetchCounting(`${base}?mode=ttfb`, (chunk, at) => {
        sample = at - Number(chunk.toString());
      });
      if (i >= 20) ttfb.push(sample); // after a warm-up
    }
    const loopback = await loopbackRate();
    const served = await rateMBps(`${base}?mode=big&mb=${STREAM_MB}`);
    const ms = (x: number) => `${x.toFixed(2)} ms`;
    return `## Response streaming (bench/response-streaming.ts)

Time to first byte: from the handler's first \`write\` (its wall clock, sent as the first chunk) to the
chunk's arrival at the client, through a RESPONSE_STREAM function URL, ${TTFB_SAMPLES} warm samples.
Throughput: the best of ${RUNS} GETs of a ${STREAM_MB} MB body written in 64 KiB chunks, against a plain Node
server writing the same chunks on loopback in the same run.

| Measure | Result |
|---|---|
| first byte over the function's write, p50 | ${ms(pct(ttfb, 50))} |
| first byte over the function's write, p99 | ${ms(pct(ttfb, 99))} |
| ${STREAM_MB} MB through the function URL | ${served.toFixed(0)} MB/s |
| ${STREAM_MB} MB from a loopback Node server | ${loopback.toFixed(0)} MB/s |
| ratio | ${((served / loopback) * 100).toFixed(0)} % |

Targets: first byte under 5 ms over the function's write; at least half the loopback rate.
`;
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) process.stdout.write(await responseStreamingBench());
