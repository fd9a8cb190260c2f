// A function's log stream in both formats, checked line by line against the reference (§11.1 Text,
// §11.2 JSON), through a real gateway, agent and Node runtime.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutFirstHop } from '../support/lineage.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const XRAY = 'Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1';

let serval: TestServal;
beforeAll(async () => {
  const fn = { runtime: 'nodejs24.x', handler: 'index.handler', codePath: fixture('node', 'logs') };
  serval = await startServal({
    functions: [
      { name: 'text-logs', ...fn, memoryMB: 256 },
      { name: 'json-logs', ...fn, memoryMB: 256, logging: { format: 'JSON' } },
    ],
  });
});
afterAll(() => serval.stop());

/** The lines one invocation wrote, once its REPORT (or platform.report) is in. */
async function invocationLines(name: string, headers: Record<string, string> = {}) {
  const res = await serval.invoke(name, {}, headers);
  expect(res.status).toBe(200);
  const requestId = res.headers.get('x-amzn-requestid')!;
  const done = (l: string) => l.includes(requestId) && /REPORT|platform\.report/.test(l);
  await expect.poll(() => serval.logs(name).some(done)).toBe(true);
  const all = serval.logs(name);
  const first = all.findIndex((l) => l.includes(requestId));
  const last = all.findIndex(done);
  // JSON mode writes platform.initStart before the first line that names the request.
  const from = all[first - 1]?.includes('platform.initStart') ? first - 1 : first;
  return { requestId, lines: all.slice(from, last + 2).filter((l) => l !== undefined) };
}

describe('Text format (§11.1)', () => {
  it('START, runtime lines, END, and a tab-separated REPORT with Init Duration on a cold start', async () => {
    const { requestId, lines } = await invocationLines('text-logs');
    expect(lines[0]).toBe(`START RequestId: ${requestId} Version: $LATEST`);
    const end = lines.indexOf(`END RequestId: ${requestId}`);
    expect(end).toBeGreaterThan(0);
    expect(lines[end + 1]).toMatch(
      new RegExp(
        `^REPORT RequestId: ${requestId}\\tDuration: \\d+\\.\\d{2} ms\\tBilled Duration: \\d+ ms\\t` +
          'Memory Size: 256 MB\\tMax Memory Used: \\d+ MB\\tInit Duration: \\d+\\.\\d{2} ms\\t$',
      ),
    );
    const [, duration, billed] = /Duration: ([\d.]+) ms\tBilled Duration: (\d+) ms/.exec(lines[end + 1]!)!;
    // Billed is the ceiling of the exact duration, which the line rounds to 2 decimals (23.001 → "23.00", 24).
    expect(Number(billed)).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(Number(duration) - 0.005)));
    expect(Number(billed)).toBeLessThanOrEqual(Math.max(1, Math.ceil(Number(duration) + 0.005)));
    // Runtime lines: <ISO time>\t<requestId>\t<LEVEL>\t<message>
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^\\S+Z\\t${requestId}\\tINFO\\tlog line$`)),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^\\S+Z\\t${requestId}\\tWARN\\twarn line$`)),
    );
    // Untraced: no XRAY line.
    expect(lines.some((l) => l.startsWith('XRAY'))).toBe(false);
  });

  it('a warm invocation has no Init Duration; a sampled trace adds the XRAY line', async () => {
    const { requestId, lines } = await invocationLines('text-logs', { 'X-Amzn-Trace-Id': XRAY });
    const report = lines.find((l) => l.startsWith(`REPORT RequestId: ${requestId}`))!;
    expect(report).not.toContain('Init Duration');
    expect(report).toMatch(/Max Memory Used: \d+ MB\t$/);
    expect(lines[lines.indexOf(report) + 1]).toBe(
      'XRAY TraceId: 1-4bf92f35-77b34da6a3ce929d0e0e4736\tSegmentId: 00f067aa0ba902b7\tSampled: true',
    );
  });
});

describe('JSON format (§11.2)', () => {
  it('platform.initStart, platform.start, application records, platform.runtimeDone, platform.report', async () => {
    const { requestId, lines } = await invocationLines('json-logs');
    const records = lines.map((l) => JSON.parse(l) as Record<string, any>);
    const platform = records.filter((r) => typeof r.type === 'string');
    expect(platform.map((r) => r.type)).toEqual([
      'platform.initStart',
      'platform.start',
      'platform.runtimeDone',
      'platform.report',
    ]);
    for (const r of platform) {
      expect(Object.keys(r)).toEqual(['time', 'type', 'record']);
      expect(r.time).toMatch(ISO);
    }
    const [initStart, start, runtimeDone, report] = platform;
    expect(initStart!.record).toMatchObject({
      initializationType: 'on-demand',
      phase: 'init',
      runtimeVersion: 'nodejs24.x',
    });
    expect(start!.record).toEqual({ requestId, version: '$LATEST' });
    expect(runtimeDone!.record).toEqual({
      requestId,
      status: 'success',
      metrics: { durationMs: expect.any(Number), producedBytes: Buffer.byteLength('"logged"') },
    });
    expect(report!.record).toEqual({
      requestId,
      status: 'success',
      metrics: {
        durationMs: expect.any(Number),
        billedDurationMs: expect.any(Number),
        memorySizeMB: 256,
        maxMemoryUsedMB: expect.any(Number),
        initDurationMs: expect.any(Number),
      },
    });
    // Billed is the ceiling of the exact duration; the record rounds that duration to 2 decimals.
    const { durationMs, billedDurationMs } = report!.record.metrics;
    expect(billedDurationMs).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(durationMs - 0.005)));
    expect(billedDurationMs).toBeLessThanOrEqual(Math.max(1, Math.ceil(durationMs + 0.005)));
    // Node application records: {timestamp, level, requestId, message}.
    const app = records.filter((r) => r.type === undefined);
    expect(app).toContainEqual({
      timestamp: expect.stringMatching(ISO),
      level: 'INFO',
      requestId,
      message: 'log line',
    });
    // A lone Error is kept structured, as Lambda's Node runtime does.
    expect(app).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        requestId,
        message: expect.objectContaining({ errorType: 'Error', errorMessage: 'logged error' }),
      }),
    );
  });

  it('a sampled trace puts tracing into platform.start, runtimeDone and report; no initStart when warm', async () => {
    const { lines } = await invocationLines('json-logs', { traceparent: TRACEPARENT });
    const platform = lines.map((l) => JSON.parse(l)).filter((r) => typeof r.type === 'string');
    expect(platform.map((r) => r.type)).toEqual([
      'platform.start',
      'platform.runtimeDone',
      'platform.report',
    ]);
    const tracing = { spanId: '00f067aa0ba902b7', type: 'X-Amzn-Trace-Id', value: expect.any(String) };
    for (const r of platform) {
      expect(r.record.tracing).toEqual(tracing);
      expect(withoutFirstHop(r.record.tracing.value)).toBe(XRAY);
    }
    expect(platform[2].record.metrics.initDurationMs).toBeUndefined();
  });
});
