// Recursive-loop detection (reference §13.1, §14.6): the `Lineage` field of X-Amzn-Trace-Id counts how often
// each function has run in one causal chain. The trace header travels with every path Serval itself takes
// (a function's SDK call, queued events, destinations, mappings), so the count follows the chain.
//
// An entry is `<mac>:<count>` per function, entries joined by `|`. The mac is an HMAC of the function and
// its count under a key only gateways hold, so a caller cannot forge a count: an entry that does not verify
// is not ours and counts as nothing (a chain from outside starts at zero).
import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Lambda stops a chain when a function would run for the 17th time. */
export const RECURSION_LIMIT = 16;
/** Entries of other functions kept; bounds the header whatever a caller sends. */
const MAX_ENTRIES = 8;
const MAX_COUNT = 9999;
const ENTRY = /^([0-9a-f]{8}):([0-9]{1,4})$/;
/** Macs remembered: an HMAC per call was a tenth of the gateway's CPU per warm invocation (#19). */
const MAC_CACHE_SIZE = 4096;

export class LineageKey {
  private readonly key: KeyObject;
  /** `fn:count` → mac; a function's first hop is the same mac on every call that starts a chain. */
  private readonly macs = new Map<string, string>();

  constructor(key: Buffer) {
    this.key = createSecretKey(key);
  }

  /**
   * Cluster mode: every replica derives the same key from the shared link key. Local mode: a key kept in the
   * data directory, so events queued before a restart keep their count.
   */
  static open(dataDir: string, sharedSecret: string | undefined): LineageKey {
    if (sharedSecret) {
      return new LineageKey(createHmac('sha256', sharedSecret).update('serval lineage v1').digest());
    }
    const file = join(dataDir, 'lineage.key');
    try {
      writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return new LineageKey(Buffer.from(readFileSync(file, 'utf8').trim(), 'hex'));
  }

  /**
   * The trace header the next run of `fn` gets, and which run of `fn` in its chain that is (1 for a chain
   * that starts here). Only the Lineage field changes; the rest of the header passes through as it came.
   */
  nextHop(traceHeader: string, fn: string): { traceHeader: string; hops: number } {
    const parts = traceHeader.split(';');
    const lineage = parts
      .find((p) => p.trim().startsWith('Lineage='))
      ?.trim()
      .slice('Lineage='.length);
    const hops = this.count(lineage, fn) + 1;
    const kept = parts.filter((p) => !p.trim().startsWith('Lineage='));
    return { traceHeader: [...kept, `Lineage=${this.record(lineage, fn, hops)}`].join(';'), hops };
  }

  /** How often `fn` (`namespace/name`) already ran in the chain `lineage` describes. */
  count(lineage: string | undefined, fn: string): number {
    for (const entry of entries(lineage)) {
      const m = ENTRY.exec(entry);
      if (m && m[1] === this.mac(fn, Number(m[2]))) return Number(m[2]);
    }
    return 0;
  }

  /** `lineage` with `fn`'s count set to `count`: its own entry first, then the others, bounded. */
  record(lineage: string | undefined, fn: string, count: number): string {
    const n = Math.min(count, MAX_COUNT);
    const previous = this.count(lineage, fn);
    const own = previous > 0 ? `${this.mac(fn, previous)}:${previous}` : undefined;
    const others = entries(lineage).filter((e) => ENTRY.test(e) && e !== own);
    return [`${this.mac(fn, n)}:${n}`, ...others.slice(0, MAX_ENTRIES - 1)].join('|');
  }

  private mac(fn: string, count: number): string {
    const input = `${fn}:${count}`;
    let mac = this.macs.get(input);
    if (mac === undefined) {
      mac = createHmac('sha256', this.key).update(input).digest('hex').slice(0, 8);
      // Bounded whatever callers send: clearing now and then costs a few HMACs, not memory.
      if (this.macs.size >= MAC_CACHE_SIZE) this.macs.clear();
      this.macs.set(input, mac);
    }
    return mac;
  }
}

function entries(lineage: string | undefined): string[] {
  return lineage ? lineage.split('|').slice(0, MAX_ENTRIES * 2) : [];
}
