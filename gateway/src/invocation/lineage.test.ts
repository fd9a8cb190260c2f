import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LineageKey } from './lineage.ts';

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const lineageOf = (header: string) => /;Lineage=([^;]*)$/.exec(header)?.[1];

describe('LineageKey', () => {
  const key = new LineageKey(Buffer.alloc(32, 7));

  it('counts each function of a chain on its own, keeping the rest of the header', () => {
    let header = TRACE;
    const hops: string[] = [];
    for (const fn of ['ns/a', 'ns/b', 'ns/a', 'ns/a', 'ns/b']) {
      const next = key.nextHop(header, fn);
      hops.push(`${fn}:${next.hops}`);
      header = next.traceHeader;
    }
    expect(hops).toEqual(['ns/a:1', 'ns/b:1', 'ns/a:2', 'ns/a:3', 'ns/b:2']);
    expect(header.startsWith(`${TRACE};Lineage=`)).toBe(true);
    expect(lineageOf(header)!.split('|')).toHaveLength(2);
    expect(key.count(lineageOf(header), 'ns/a')).toBe(3);
    expect(key.count(lineageOf(header), 'ns/c')).toBe(0);
  });

  it('does not trust an entry it did not sign: forged, from another key, or for another function', () => {
    expect(key.nextHop(`${TRACE};Lineage=deadbeef:15`, 'ns/a').hops).toBe(1);
    expect(key.nextHop(`${TRACE};Lineage=not-a-lineage`, 'ns/a').hops).toBe(1);
    const other = new LineageKey(Buffer.alloc(32, 8));
    let header = TRACE;
    for (let i = 0; i < 5; i++) header = other.nextHop(header, 'ns/a').traceHeader;
    expect(key.nextHop(header, 'ns/a').hops).toBe(1);
    // A genuine count for one function does not move to another.
    const forA = key.nextHop(TRACE, 'ns/a').traceHeader;
    expect(key.nextHop(forA, 'ns/b').hops).toBe(1);
  });

  it('bounds the field whatever a caller sends', () => {
    const junk = Array.from({ length: 100 }, (_, i) => `${i.toString(16).padStart(8, '0')}:1`).join('|');
    const { traceHeader } = key.nextHop(`${TRACE};Lineage=${junk}`, 'ns/a');
    expect(lineageOf(traceHeader)!.split('|').length).toBeLessThanOrEqual(8);
  });

  it('keeps its key in the data directory (0600) so queued events survive a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'serval-lineage-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const first = LineageKey.open(dir, undefined);
    const header = first.nextHop(TRACE, 'ns/a').traceHeader;
    expect(LineageKey.open(dir, undefined).nextHop(header, 'ns/a').hops).toBe(2);
    expect(statSync(join(dir, 'lineage.key')).mode & 0o077).toBe(0);
    expect(readFileSync(join(dir, 'lineage.key'), 'utf8')).toMatch(/^[0-9a-f]{64}$/);
    // Cluster replicas derive one key from the shared link key.
    const a = LineageKey.open(dir, 'link-key').nextHop(TRACE, 'ns/a').traceHeader;
    expect(LineageKey.open(join(dir, 'elsewhere'), 'link-key').nextHop(a, 'ns/a').hops).toBe(2);
  });
});
