// `serval schedule next` as a user runs it: the real CLI in a child process, its stdout and exit code.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/serval.ts';

function serval(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/serval.mjs', 'schedule', 'next', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('serval schedule next', () => {
  it('prints the next fire times one ISO-8601 UTC time per line', () => {
    const r = serval('cron(0 9 ? * MON-FRI *)', '--count', '3', '--from', '2026-01-02T10:00:00Z');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('2026-01-05T09:00:00Z\n2026-01-06T09:00:00Z\n2026-01-07T09:00:00Z\n');
  });

  it('reads the fields in --timezone', () => {
    const r = serval(
      'cron(0 9 * * ? *)',
      '--count',
      '1',
      '--from',
      '2026-07-01T00:00:00Z',
      '--timezone',
      'Europe/Berlin',
    );
    expect(r.stdout).toBe('2026-07-01T07:00:00Z\n');
  });

  it('defaults to five times from now', () => {
    const r = serval('rate(1 minute)');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(Date.parse(lines[0]!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it.each([
    [['cron(0 0 32 * ? *)'], 'cron day-of-month: "32" is not in 1-31'],
    [['rate(1 minutes)'], 'rate unit must be singular'],
    [['rate(1 minute)', '--count', '0'], '--count must be a whole number'],
    [['rate(1 minute)', '--from', 'yesterday'], '--from must be an ISO-8601 time'],
    [['rate(1 minute)', '--timezone', 'Nowhere/Land'], '--timezone must be an IANA time zone'],
  ])('exits 2 with the reason for %j', (args, reason) => {
    const r = serval(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(reason);
  });
});
