// Lambda's event-filtering grammar (EventBridge-style patterns, reference §10.3): parse a pattern once into
// a matcher, or say which field of it is wrong. Shared by the schema (manifests, the API), the pollers and
// `serval filter test`.

/** A pattern that cannot be used, with the path of the offending field inside it (`body.price[0].numeric`). */
export class FilterPatternError extends Error {
  readonly field: string;
  /** The message without the field. */
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(field ? `${field}: ${reason}` : reason);
    this.field = field;
    this.reason = reason;
  }
}

/** Where a record's payload sits in what the filter sees, and whether it was JSON. */
export interface FilterInput {
  /** Metadata fields and, under `dataKey`, the payload: parsed JSON, a plain string, or absent (not UTF-8). */
  view: Record<string, unknown>;
  /** `body` (SQS), `data` (MQ, NATS), `value` (Kafka). */
  dataKey: string;
}

type Matcher = (value: unknown, present: boolean) => boolean;
interface ObjectNode {
  fields: Array<{ key: string; rules?: Matcher[]; nested?: ObjectNode }>;
  /** `$or` branches: at least one must match, besides every field. */
  or: ObjectNode[][];
}

const OPERATORS = [
  'anything-but',
  'numeric',
  'exists',
  'prefix',
  'suffix',
  'equals-ignore-case',
  'wildcard',
] as const;
const NUMERIC_OPS = ['=', '<', '<=', '>', '>='] as const;
type NumericOp = (typeof NUMERIC_OPS)[number];

/** A compiled filter pattern. */
export class FilterPattern {
  private readonly root: ObjectNode;
  /** How the pattern treats the payload key: JSON fields, rules on a plain string, or not at all. */
  private readonly dataShape = new Map<string, 'json' | 'string'>();

  private constructor(root: ObjectNode) {
    this.root = root;
    for (const f of root.fields) this.dataShape.set(f.key, f.nested ? 'json' : 'string');
  }

  /** Parses a pattern's JSON text; throws FilterPatternError naming the field. */
  static parse(text: string): FilterPattern {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new FilterPatternError('', `is not valid JSON (${(err as Error).message})`);
    }
    if (!isPlainObject(value)) throw new FilterPatternError('', 'must be a JSON object');
    return new FilterPattern(compileObject(value, ''));
  }

  matches(input: FilterInput): boolean {
    const data = input.view[input.dataKey];
    const shape = this.dataShape.get(input.dataKey);
    let view = input.view;
    if (shape !== undefined) {
      if (data === undefined) {
        // A payload that is not UTF-8 is filtered on metadata alone (reference §10.3).
        view = { ...input.view };
        delete view[input.dataKey];
        return matchObject(withoutField(this.root, input.dataKey), view);
      }
      // A plain-string body against a JSON pattern, or JSON against a string pattern, is dropped.
      const isJson = typeof data === 'object' && data !== null;
      if ((shape === 'json') !== isJson) return false;
    }
    return matchObject(this.root, view);
  }
}

/**
 * What filters see of a text payload (an SQS body): a JSON object or array as JSON, anything else as the
 * plain string it is (reference §10.3).
 */
export function textPayloadView(text: string): unknown {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A binary payload (MQ, NATS, Kafka): UTF-8 as text or JSON; not UTF-8 is undefined (metadata-only filtering). */
export function binaryPayloadView(data: Uint8Array): unknown {
  try {
    return textPayloadView(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch {
    return undefined;
  }
}

/** True when any of the filters matches (Lambda ORs a mapping's filters); no filters match everything. */
export function matchesAny(patterns: readonly FilterPattern[], input: FilterInput): boolean {
  return patterns.length === 0 || patterns.some((p) => p.matches(input));
}

/** The problems of a mapping's filter criteria: which filter, and the field inside its pattern. */
export function filterProblems(criteria: {
  filters?: Array<{ pattern: string }>;
}): Array<{ filter: number; field: string; reason: string }> {
  const problems: Array<{ filter: number; field: string; reason: string }> = [];
  for (const [i, filter] of (criteria.filters ?? []).entries()) {
    try {
      FilterPattern.parse(filter.pattern);
    } catch (err) {
      if (!(err instanceof FilterPatternError)) throw err;
      problems.push({ filter: i, field: err.field, reason: err.reason });
    }
  }
  return problems;
}

function compileObject(value: Record<string, unknown>, path: string): ObjectNode {
  const node: ObjectNode = { fields: [], or: [] };
  const entries = Object.entries(value);
  if (entries.length === 0) throw new FilterPatternError(path, 'must not be an empty object');
  for (const [key, v] of entries) {
    const at = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(v) || v.length < 2 || !v.every(isPlainObject)) {
        throw new FilterPatternError(at, 'must be an array of at least two pattern objects');
      }
      node.or.push(v.map((branch, i) => compileObject(branch, `${at}[${i}]`)));
    } else if (isPlainObject(v)) {
      node.fields.push({ key, nested: compileObject(v, at) });
    } else if (Array.isArray(v)) {
      if (v.length === 0) throw new FilterPatternError(at, 'must list at least one value or rule');
      node.fields.push({ key, rules: v.map((rule, i) => compileRule(rule, `${at}[${i}]`)) });
    } else {
      throw new FilterPatternError(at, 'must be an array of values or rules, or a nested pattern object');
    }
  }
  return node;
}

function compileRule(rule: unknown, at: string): Matcher {
  if (rule === null) return (v, present) => present && v === null;
  if (typeof rule === 'string' || typeof rule === 'number' || typeof rule === 'boolean') {
    const wanted = scalarKey(rule);
    return (v) => anyLeaf(v, (leaf) => scalarKey(leaf) === wanted);
  }
  if (!isPlainObject(rule))
    throw new FilterPatternError(at, 'must be a string, number, null or a rule object');
  const keys = Object.keys(rule);
  if (keys.length !== 1) throw new FilterPatternError(at, 'a rule object has exactly one operator');
  const op = keys[0]!;
  const arg = rule[op];
  const opAt = `${at}.${op}`;
  switch (op) {
    case 'exists':
      if (typeof arg !== 'boolean') throw new FilterPatternError(opAt, 'must be true or false');
      // exists matches leaves: a field holding an object is not a value.
      return (v, present) => (present && !isPlainObject(v)) === arg;
    case 'prefix':
    case 'suffix': {
      const test = stringTest(op, arg, opAt);
      return (v) => anyLeaf(v, (leaf) => typeof leaf === 'string' && test(leaf));
    }
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') throw new FilterPatternError(opAt, 'must be a string');
      const wanted = arg.toLowerCase();
      return (v) => anyLeaf(v, (leaf) => typeof leaf === 'string' && leaf.toLowerCase() === wanted);
    }
    case 'wildcard': {
      if (typeof arg !== 'string') throw new FilterPatternError(opAt, 'must be a string');
      if (arg.includes('**')) throw new FilterPatternError(opAt, 'must not contain consecutive wildcards');
      const re = new RegExp(`^${arg.split('*').map(escapeRegExp).join('.*')}$`, 's');
      return (v) => anyLeaf(v, (leaf) => typeof leaf === 'string' && re.test(leaf));
    }
    case 'numeric': {
      const test = numericTest(arg, opAt);
      return (v) => anyLeaf(v, (leaf) => typeof leaf === 'number' && test(leaf));
    }
    case 'anything-but': {
      const excluded = anythingBut(arg, opAt);
      // A missing field is not "anything but": there is nothing to compare.
      return (v, present) => present && !anyLeaf(v, excluded);
    }
    default:
      throw new FilterPatternError(opAt, `is not a filter operator (${OPERATORS.join(', ')})`);
  }
}

function stringTest(op: 'prefix' | 'suffix', arg: unknown, at: string): (s: string) => boolean {
  if (typeof arg === 'string') return op === 'prefix' ? (s) => s.startsWith(arg) : (s) => s.endsWith(arg);
  // EventBridge's case-insensitive form: {"prefix": {"equals-ignore-case": "us-"}}.
  if (isPlainObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string') {
    const wanted = (arg['equals-ignore-case'] as string).toLowerCase();
    return op === 'prefix'
      ? (s) => s.toLowerCase().startsWith(wanted)
      : (s) => s.toLowerCase().endsWith(wanted);
  }
  throw new FilterPatternError(at, 'must be a string');
}

function numericTest(arg: unknown, at: string): (n: number) => boolean {
  if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) {
    throw new FilterPatternError(at, 'must be [op, number] or [op, number, op, number]');
  }
  const checks: Array<(n: number) => boolean> = [];
  const bounds: Array<{ op: NumericOp; n: number }> = [];
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const n = arg[i + 1];
    if (!NUMERIC_OPS.includes(op as NumericOp)) {
      throw new FilterPatternError(`${at}[${i}]`, `must be one of ${NUMERIC_OPS.join(' ')}`);
    }
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      throw new FilterPatternError(`${at}[${i + 1}]`, 'must be a number');
    }
    bounds.push({ op: op as NumericOp, n });
    checks.push(compare(op as NumericOp, n));
  }
  if (bounds.length === 2) {
    const [lower, upper] = bounds as [{ op: NumericOp; n: number }, { op: NumericOp; n: number }];
    if (!lower.op.startsWith('>') || !upper.op.startsWith('<')) {
      throw new FilterPatternError(at, 'a range is a lower bound (> or >=) then an upper bound (< or <=)');
    }
    if (lower.n >= upper.n) throw new FilterPatternError(at, 'the lower bound must be below the upper bound');
  }
  return (n) => checks.every((c) => c(n));
}

function compare(op: NumericOp, bound: number): (n: number) => boolean {
  switch (op) {
    case '=':
      return (n) => n === bound;
    case '<':
      return (n) => n < bound;
    case '<=':
      return (n) => n <= bound;
    case '>':
      return (n) => n > bound;
    case '>=':
      return (n) => n >= bound;
  }
}

function anythingBut(arg: unknown, at: string): (leaf: unknown) => boolean {
  if (typeof arg === 'string' || typeof arg === 'number') {
    const key = scalarKey(arg);
    return (leaf) => scalarKey(leaf) === key;
  }
  if (Array.isArray(arg)) {
    if (arg.length === 0) throw new FilterPatternError(at, 'must list at least one value');
    const keys = new Set(
      arg.map((v, i) => {
        if (typeof v !== 'string' && typeof v !== 'number') {
          throw new FilterPatternError(`${at}[${i}]`, 'must be a string or a number');
        }
        return scalarKey(v);
      }),
    );
    return (leaf) => keys.has(scalarKey(leaf));
  }
  if (isPlainObject(arg) && Object.keys(arg).length === 1) {
    const [op] = Object.keys(arg) as [string];
    if (op === 'prefix' || op === 'suffix') {
      const test = stringTest(op, arg[op], `${at}.${op}`);
      return (leaf) => typeof leaf === 'string' && test(leaf);
    }
    if (op === 'equals-ignore-case') {
      const values = Array.isArray(arg[op]) ? arg[op] : [arg[op]];
      if (!values.every((v: unknown) => typeof v === 'string'))
        throw new FilterPatternError(`${at}.${op}`, 'must be a string or an array of strings');
      const lowered = new Set((values as string[]).map((v) => v.toLowerCase()));
      return (leaf) => typeof leaf === 'string' && lowered.has(leaf.toLowerCase());
    }
  }
  throw new FilterPatternError(
    at,
    'must be a value, an array of values, or {prefix|suffix|equals-ignore-case}',
  );
}

/** Values compare by type and text: "5" and 5 do not mix (JSON parsing makes 300.0 and 300 one number). */
function scalarKey(v: unknown): string {
  if (typeof v === 'number') return `n:${String(v)}`;
  if (typeof v === 'string') return `s:${v}`;
  if (typeof v === 'boolean') return `b:${v}`;
  if (v === null) return 'null';
  return 'other';
}

/** An array in the event matches when any element does (EventBridge semantics). */
function anyLeaf(v: unknown, test: (leaf: unknown) => boolean): boolean {
  return Array.isArray(v) ? v.some((e) => anyLeaf(e, test)) : test(v);
}

function matchObject(node: ObjectNode, value: unknown): boolean {
  const obj = isPlainObject(value) ? value : {};
  for (const field of node.fields) {
    const present = Object.hasOwn(obj, field.key);
    const v = obj[field.key];
    if (field.nested) {
      // A missing parent still lets `exists: false` below it match.
      if (!present) {
        if (!matchObject(field.nested, {})) return false;
        continue;
      }
      const candidates = Array.isArray(v) ? v : [v];
      if (!candidates.some((c) => matchObject(field.nested!, c))) return false;
    } else if (!field.rules!.some((rule) => rule(v, present))) {
      return false;
    }
  }
  return node.or.every((branches) => branches.some((b) => matchObject(b, obj)));
}

function withoutField(node: ObjectNode, key: string): ObjectNode {
  return { fields: node.fields.filter((f) => f.key !== key), or: node.or };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
