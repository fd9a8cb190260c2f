// The matching primitives of the policy grammar: wildcard patterns with policy variables, IP/CIDR
// blocks, and IAM's condition operators with their set (ForAnyValue/ForAllValues) and IfExists forms.
import { isIP } from 'node:net';
import { CONDITION_OPERATORS, type ConditionOperator } from '../../../apis/function.ts';

/** A request context value as a condition sees it: absent, one string, or several (`jwt:groups`). */
export type ContextValues = readonly string[] | undefined;
/** Looks a condition key or policy variable up in the request (keys arrive lower-cased, claims as written). */
export type ContextLookup = (key: string) => ContextValues;

type Segment = { literal: string } | { star: true } | { one: true } | { variable: string };

/**
 * A wildcard pattern: `*` is any run of characters (colons too, as in IAM), `?` one character, and
 * `${key}` a policy variable replaced by the caller's single value for that key, taken literally.
 */
export class Pattern {
  private readonly segments: Segment[];
  private readonly fixed: RegExp | undefined;
  private readonly flags: string;

  constructor(source: string, caseInsensitive = false) {
    this.flags = caseInsensitive ? 'is' : 's';
    this.segments = parsePattern(source);
    const hasVariables = this.segments.some((s) => 'variable' in s);
    this.fixed = hasVariables ? undefined : this.build(() => undefined);
  }

  matches(value: string, lookup: ContextLookup): boolean {
    const regex = this.fixed ?? this.build(lookup);
    return regex?.test(value) === true;
  }

  /** undefined when a variable has no single value: the pattern then matches nothing (IAM's rule). */
  private build(lookup: ContextLookup): RegExp | undefined {
    let source = '^';
    for (const s of this.segments) {
      if ('literal' in s) source += escapeRegExp(s.literal);
      else if ('star' in s) source += '.*';
      else if ('one' in s) source += '.';
      else {
        const values = lookup(normaliseKey(s.variable));
        if (values?.length !== 1) return undefined;
        source += escapeRegExp(values[0]!);
      }
    }
    return new RegExp(`${source}$`, this.flags);
  }
}

function parsePattern(source: string): Segment[] {
  const segments: Segment[] = [];
  let literal = '';
  const flush = () => {
    if (literal) segments.push({ literal });
    literal = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '$' && source[i + 1] === '{') {
      const end = source.indexOf('}', i);
      if (end > 0) {
        const name = source.slice(i + 2, end);
        // ${*}, ${?} and ${$} are IAM's escapes for the literal characters.
        if (name === '*' || name === '?' || name === '$') literal += name;
        else {
          flush();
          segments.push({ variable: name });
        }
        i = end;
        continue;
      }
    }
    if (c === '*' || c === '?') {
      flush();
      segments.push(c === '*' ? { star: true } : { one: true });
    } else literal += c;
  }
  flush();
  return segments;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Condition keys are case-insensitive in IAM; the claim name after `jwt:` keeps its case. */
export function normaliseKey(key: string): string {
  const colon = key.indexOf(':');
  const prefix = key.slice(0, colon).toLowerCase();
  return prefix === 'jwt' ? `jwt:${key.slice(colon + 1)}` : key.toLowerCase();
}

/** An IPv4 or IPv6 address or CIDR block; IPv4-mapped IPv6 addresses count as IPv4. */
export class IpBlock {
  private readonly bytes: Uint8Array;
  private readonly prefix: number;

  constructor(cidr: string) {
    const [address = '', prefix] = cidr.split('/');
    const bytes = parseIp(address);
    if (!bytes) throw new Error(`not an IP address or CIDR block: ${cidr}`);
    this.bytes = bytes;
    // An IPv4-mapped block (::ffff:10.0.0.0/104) is the IPv4 block it maps (10.0.0.0/8).
    const mapped = bytes.length === 4 && address.includes(':') ? 96 : 0;
    this.prefix = Math.min(
      bytes.length * 8,
      prefix === undefined ? bytes.length * 8 : Number(prefix) - mapped,
    );
  }

  contains(address: string): boolean {
    const bytes = parseIp(address);
    if (!bytes || bytes.length !== this.bytes.length) return false;
    for (let bit = 0; bit < this.prefix; bit += 8) {
      const take = Math.min(8, this.prefix - bit);
      const mask = (0xff << (8 - take)) & 0xff;
      if ((bytes[bit / 8]! & mask) !== (this.bytes[bit / 8]! & mask)) return false;
    }
    return true;
  }
}

function parseIp(raw: string): Uint8Array | undefined {
  const address = raw.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const family = isIP(address);
  if (family === 4) return Uint8Array.from(address.split('.').map(Number));
  if (family !== 6) return undefined;
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part ? part.split(':') : []);
  let left = groups(head);
  let right = tail === undefined ? [] : groups(tail);
  // A trailing dotted quad is the last two groups.
  const last = (tail === undefined ? left : right).at(-1);
  if (last?.includes('.')) {
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    const quad = [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    if (tail === undefined) left = [...left.slice(0, -1), ...quad];
    else right = [...right.slice(0, -1), ...quad];
  }
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return bytes;
}

const NEGATED: ReadonlySet<ConditionOperator> = new Set(['StringNotEquals', 'StringNotLike', 'NotIpAddress']);

/** One `"Operator": { "key": values }` entry, compiled once. */
export class Condition {
  private readonly operator: ConditionOperator;
  private readonly set: 'any' | 'all' | undefined;
  private readonly ifExists: boolean;
  private readonly key: string;
  private readonly values: string[];
  private readonly patterns: Pattern[];
  private readonly blocks: IpBlock[];

  constructor(
    operatorName: string,
    key: string,
    raw: string | number | boolean | (string | number | boolean)[],
  ) {
    const m = /^(ForAnyValue:|ForAllValues:)?([A-Za-z]+?)(IfExists)?$/.exec(operatorName);
    if (!m) throw new Error(`unknown condition operator ${operatorName}`);
    this.set = m[1] === 'ForAllValues:' ? 'all' : m[1] === 'ForAnyValue:' ? 'any' : undefined;
    if (!(CONDITION_OPERATORS as readonly string[]).includes(m[2]!)) {
      throw new Error(`unknown condition operator ${operatorName}`);
    }
    this.operator = m[2] as ConditionOperator;
    this.ifExists = m[3] !== undefined;
    this.key = normaliseKey(key);
    this.values = (Array.isArray(raw) ? raw : [raw]).map(String);
    const ignoreCase = this.operator === 'StringEqualsIgnoreCase';
    this.patterns = this.values.map(
      (v) =>
        new Pattern(this.operator.includes('Like') ? v : v.replace(/[*?]/g, (c) => `\${${c}}`), ignoreCase),
    );
    this.blocks = this.operator.includes('IpAddress') ? this.values.map((v) => new IpBlock(v)) : [];
  }

  holds(lookup: ContextLookup): boolean {
    const present = lookup(this.key);
    const absent = present === undefined || present.length === 0;
    if (this.operator === 'Null') return this.values.includes(absent ? 'true' : 'false');
    if (absent) return this.ifExists || this.set === 'all' || NEGATED.has(this.operator);
    const test = (value: string) => this.test(value, lookup);
    // A plain operator on a multi-valued key behaves as ForAnyValue (documented in docs/auth.md).
    return this.set === 'all' ? present.every(test) : present.some(test);
  }

  private test(value: string, lookup: ContextLookup): boolean {
    switch (this.operator) {
      case 'StringEquals':
      case 'StringEqualsIgnoreCase':
      case 'StringLike':
        return this.patterns.some((p) => p.matches(value, lookup));
      case 'StringNotEquals':
      case 'StringNotLike':
        return !this.patterns.some((p) => p.matches(value, lookup));
      case 'IpAddress':
        return this.blocks.some((b) => b.contains(value));
      case 'NotIpAddress':
        return !this.blocks.some((b) => b.contains(value));
      case 'Bool':
        return this.values.includes(value);
      case 'Null':
        return false; // answered in holds()
    }
  }
}
