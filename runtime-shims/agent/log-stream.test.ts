import { describe, expect, it } from 'vitest';
import type { EnvironmentSpec } from '../../apis/environment-link.ts';
import { LogStream } from './log-stream.ts';

const spec = { version: '$LATEST', logFormat: 'Text', initializationType: 'on-demand' } as EnvironmentSpec;
const metrics = { durationMs: 26.734, billedDurationMs: 27, memorySizeMB: 256, maxMemoryUsedMB: 99 };

describe('LogStream (Text)', () => {
  it('writes START, the runtime lines, END and a tab-separated REPORT (reference §11.1)', () => {
    const out: string[] = [];
    const log = new LogStream(spec, (l) => out.push(l));
    log.start('id-1');
    log.runtimeOutput('hello\npart');
    log.runtimeOutput('ial line\n');
    const tail = log.end('id-1', 'success', { ...metrics, initDurationMs: 841.6 });
    expect(out).toEqual([
      'START RequestId: id-1 Version: $LATEST',
      'hello',
      'partial line',
      'END RequestId: id-1',
      'REPORT RequestId: id-1\tDuration: 26.73 ms\tBilled Duration: 27 ms\tMemory Size: 256 MB\tMax Memory Used: 99 MB\tInit Duration: 841.60 ms\t',
    ]);
    expect(Buffer.from(tail, 'base64').toString()).toBe(`${out.join('\n')}\n`);
  });

  it('keeps only the last 4 KB of an invocation for the tail', () => {
    const log = new LogStream(spec, () => {});
    log.start('id-2');
    for (let i = 0; i < 500; i++) log.runtimeOutput(`line ${i} ${'x'.repeat(40)}\n`);
    const tail = Buffer.from(log.end('id-2', 'success', metrics), 'base64');
    expect(tail.length).toBe(4096);
    expect(tail.toString()).toMatch(/REPORT RequestId: id-2.*\n$/);
  });
});

describe('LogStream with several invocations at once', () => {
  it('gives each invocation the lines that name it, and lines naming none to no tail', () => {
    const out: string[] = [];
    const log = new LogStream(spec, (l) => out.push(l));
    log.start('id-a');
    log.start('id-b');
    log.runtimeOutput('2026-12-01T00:00:00.000Z\tid-b\tINFO\tfrom b\n');
    log.runtimeOutput('2026-12-01T00:00:00.000Z\tid-a\tINFO\tfrom a\nstray line\n');
    const a = Buffer.from(log.end('id-a', 'success', metrics), 'base64').toString();
    log.runtimeOutput('2026-12-01T00:00:00.000Z\tid-b\tINFO\tb again\n');
    const b = Buffer.from(log.end('id-b', 'success', metrics), 'base64').toString();
    expect(a).toMatch(
      /^START RequestId: id-a .*\n.*\tid-a\tINFO\tfrom a\nEND RequestId: id-a\nREPORT RequestId: id-a\t/,
    );
    expect(a).not.toContain('id-b');
    expect(b).toMatch(
      /^START RequestId: id-b .*\n.*\tINFO\tfrom b\n.*\tINFO\tb again\nEND RequestId: id-b\n/,
    );
    expect(b).not.toContain('id-a');
    // Every line still reaches the stream.
    expect(out).toContain('stray line');
  });
});

describe('LogStream (JSON)', () => {
  it('writes platform.start, platform.runtimeDone and platform.report records', () => {
    const out: string[] = [];
    const log = new LogStream({ ...spec, logFormat: 'JSON' }, (l) => out.push(l));
    log.start('id-3');
    log.end('id-3', 'error', metrics, 'Runtime.ExitError');
    const [start, runtimeDone, report] = out.map((l) => JSON.parse(l));
    expect(runtimeDone).toMatchObject({
      type: 'platform.runtimeDone',
      record: { requestId: 'id-3', status: 'error', metrics: { durationMs: 26.73, producedBytes: 0 } },
    });
    expect(start).toMatchObject({
      type: 'platform.start',
      record: { requestId: 'id-3', version: '$LATEST' },
    });
    expect(report).toMatchObject({
      type: 'platform.report',
      record: {
        requestId: 'id-3',
        status: 'error',
        errorType: 'Runtime.ExitError',
        metrics: { durationMs: 26.73, billedDurationMs: 27, memorySizeMB: 256, maxMemoryUsedMB: 99 },
      },
    });
    expect(new Date(start.time).toISOString()).toBe(start.time);
  });
});
