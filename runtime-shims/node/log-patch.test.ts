import { describe, expect, it } from 'vitest';
import type { LogFormat, LogLevel } from './config.ts';
import { RuntimeLog } from './log-patch.ts';

const NOW = new Date('2026-01-02T03:04:05.678Z');

function setup(format: LogFormat, level: LogLevel = 'TRACE') {
  const records: string[] = [];
  const log = new RuntimeLog({ format, level, write: (r) => records.push(r), now: () => NOW });
  const target = {} as Console;
  log.patch(target);
  const fatal = (target as unknown as { fatal: (...a: unknown[]) => void }).fatal;
  return { log, records, console: target, fatal };
}

describe('Text format', () => {
  it('writes time, request id, level and message separated by tabs', () => {
    const { log, records, console } = setup('Text');
    log.requestId = 'req-1';
    console.log('hello %s', 'world');
    console.warn('careful');
    expect(records).toEqual([
      '2026-01-02T03:04:05.678Z\treq-1\tINFO\thello world\n',
      '2026-01-02T03:04:05.678Z\treq-1\tWARN\tcareful\n',
    ]);
  });

  it('maps each console method to its level', () => {
    const { records, console, fatal } = setup('Text');
    console.trace('t');
    console.debug('d');
    console.info('i');
    console.error('e');
    fatal('f');
    expect(records.map((r) => r.split('\t')[2])).toEqual(['TRACE', 'DEBUG', 'INFO', 'ERROR', 'FATAL']);
  });

  it('keeps a multi-line message on one line using carriage returns', () => {
    const { records, console } = setup('Text');
    console.log('one\ntwo\nthree');
    expect(records[0]).toBe('2026-01-02T03:04:05.678Z\tundefined\tINFO\tone\rtwo\rthree\n');
  });

  it('prints "undefined" for the request id during init and for an empty console.log()', () => {
    const { records, console } = setup('Text');
    console.log();
    expect(records[0]).toBe('2026-01-02T03:04:05.678Z\tundefined\tINFO\tundefined\n');
  });

  it('does not filter by level (levels need JSON format)', () => {
    const { records, console } = setup('Text', 'TRACE');
    console.debug('kept');
    expect(records).toHaveLength(1);
  });

  it('logs runtime errors as a label and the formatted error', () => {
    const { log, records } = setup('Text');
    log.requestId = 'req-2';
    log.logError('Invoke Error', new Error('bad'));
    const [time, id, level, message] = records[0]!.split('\t');
    expect([time, id, level]).toEqual(['2026-01-02T03:04:05.678Z', 'req-2', 'ERROR']);
    expect(message).toBe('Invoke Error ');
    const json = JSON.parse(records[0]!.split('\t').slice(4).join('\t'));
    expect(json).toMatchObject({ errorType: 'Error', errorMessage: 'bad' });
  });
});

describe('JSON format', () => {
  it('writes one JSON record per call with timestamp, level, requestId and message', () => {
    const { log, records, console } = setup('JSON');
    log.requestId = 'req-3';
    console.info('plain');
    expect(JSON.parse(records[0]!)).toEqual({
      timestamp: '2026-01-02T03:04:05.678Z',
      level: 'INFO',
      requestId: 'req-3',
      message: 'plain',
    });
  });

  it('adds the tenant id when the invocation has one', () => {
    const { log, records, console } = setup('JSON');
    log.requestId = 'req-4';
    log.tenantId = 'tenant-a';
    console.log('x');
    expect(JSON.parse(records[0]!)).toMatchObject({ requestId: 'req-4', tenantId: 'tenant-a' });
  });

  it('keeps a single object as structured JSON and a single Error as its fields', () => {
    const { records, console } = setup('JSON');
    console.log({ a: { b: 1 } });
    console.error(new RangeError('out of range'));
    expect(JSON.parse(records[0]!).message).toEqual({ a: { b: 1 } });
    const message = JSON.parse(records[1]!).message;
    expect(message).toMatchObject({ errorType: 'RangeError', errorMessage: 'out of range' });
    expect(message.stackTrace[0]).toBe('RangeError: out of range');
  });

  it('formats several arguments and lifts the first Error into errorType/errorMessage/stackTrace', () => {
    const { records, console } = setup('JSON');
    console.error('failed:', new Error('inner'));
    const record = JSON.parse(records[0]!);
    expect(record.message).toMatch(/^failed: Error: inner/);
    expect(record).toMatchObject({ errorType: 'Error', errorMessage: 'inner' });
    expect(record.stackTrace[0]).toBe('Error: inner');
  });

  it('falls back to util.format for a single value JSON cannot hold', () => {
    const { records, console } = setup('JSON');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    console.log(circular);
    expect(JSON.parse(records[0]!).message).toBe('<ref *1> { self: [Circular *1] }');
  });

  it('honours AWS_LAMBDA_LOG_LEVEL, but always writes FATAL', () => {
    const { records, console, fatal } = setup('JSON', 'WARN');
    console.trace('no');
    console.debug('no');
    console.log('no');
    console.info('no');
    console.warn('yes');
    console.error('yes');
    fatal('yes');
    expect(records.map((r) => JSON.parse(r).level)).toEqual(['WARN', 'ERROR', 'FATAL']);
  });

  it('logs runtime errors as the error itself', () => {
    const { log, records } = setup('JSON');
    log.logError('Invoke Error', 'a string');
    expect(JSON.parse(records[0]!).message).toMatchObject({ errorType: 'Error', errorMessage: 'a string' });
  });
});
