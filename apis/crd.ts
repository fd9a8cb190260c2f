// Turns the zod schemas into apiextensions.k8s.io/v1 CustomResourceDefinitions with structural OpenAPI v3
// schemas, so the API server validates exactly what manifest loading validates. Pure: no I/O.
import { z } from 'zod';
import { KUBERNETES_FORMATS, NOT_RE2, structuralProblems } from './crd-structural.ts';

/** An `x-kubernetes-validations` entry: a CEL rule and the message the API server returns when it fails. */
export interface ValidationRule {
  rule: string;
  message: string;
  /** Relative to the node, e.g. `.handler`; makes the error name that field instead of the node. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
}

/** The subset of JSONSchemaProps we produce. */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  required?: string[];
  items?: Schema;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  anyOf?: Schema[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: ValidationRule[];
}

/**
 * What JSON Schema cannot carry from zod: a refinement as CEL, or bounds that let the API server estimate a
 * rule's cost. `path` is dotted from the schema's root; `[]` steps into array items, `{}` into map values:
 * `spec.alb.rules[]`, `spec.environment`.
 */
export interface Amendment {
  path: string;
  /** Why the amendment exists (kept in the source, not in the generated CRD). */
  why: string;
  rules?: ValidationRule[];
  /** Keywords merged into the node (bounds implied by a refinement, e.g. maxProperties: 1). */
  set?: Partial<Schema>;
  /** Fields a refinement makes required. */
  require?: string[];
  /** The key pattern uses a construct RE2 lacks (lookaround); `rules` must check the keys instead. */
  replacesKeyPattern?: true;
  /** The same for a string's own pattern. */
  replacesPattern?: true;
}

type Json = Record<string, unknown>;

/** Converts a zod schema (its input side: defaults make fields optional) into a structural schema. */
export function structuralSchema(schema: z.ZodType, amendments: readonly Amendment[] = []): Schema {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'throw',
    // `z.url({ protocol })` becomes a bare `format: uri`; keep the protocol as a pattern as well.
    override: (ctx) => {
      const def = ctx.zodSchema._zod.def as { format?: string; protocol?: RegExp };
      if (def.format === 'url' && def.protocol) {
        const protocol = def.protocol.source.replace(/^\^/, '').replace(/\$$/, '');
        ctx.jsonSchema.pattern = `^(${protocol}):`;
      }
    },
  }) as Json;
  const byPath = new Map(amendments.map((a) => [a.path, a]));
  const used = new Set<string>();
  const result = convert(json, '', byPath, used);
  const unused = amendments.filter((a) => !used.has(a.path)).map((a) => a.path);
  if (unused.length > 0) throw new Error(`amendments name no node of the schema: ${unused.join(', ')}`);
  return result;
}

function convert(node: Json, path: string, amendments: Map<string, Amendment>, used: Set<string>): Schema {
  const amendment = amendments.get(path);
  if (amendment) used.add(path);
  const out = convertNode(node, path, amendments, used, amendment);
  if (amendment) amend(out, amendment, path);
  return out;
}

function convertNode(
  node: Json,
  path: string,
  amendments: Map<string, Amendment>,
  used: Set<string>,
  amendment: Amendment | undefined,
): Schema {
  const where = path || '<root>';
  const union = (node.anyOf ?? node.oneOf) as Json[] | undefined;
  if (union) return convertUnion(node, union, where);
  const types = Array.isArray(node.type) ? (node.type as string[]) : [node.type];
  if (types.includes('null'))
    throw new Error(`${where}: null is not a Kubernetes value; make the field optional`);
  if (types.length > 1) {
    return untyped(node, types.length === 2 && types.includes('integer') && types.includes('string'));
  }
  if (node.type === undefined) {
    if (Object.keys(node).length === 0) return { 'x-kubernetes-preserve-unknown-fields': true };
    throw new Error(`${where}: a schema without a type cannot be made structural: ${JSON.stringify(node)}`);
  }

  const out: Schema = { type: node.type as Schema['type'] };
  copyValueValidations(node, out, where, amendment);
  if (out.type === 'array') {
    if (!node.items) throw new Error(`${where}: array without items`);
    out.items = convert(node.items as Json, `${path}[]`, amendments, used);
  }
  if (out.type === 'object') {
    const properties = node.properties as Record<string, Json> | undefined;
    const additional = node.additionalProperties as Json | boolean | undefined;
    if (properties) {
      out.properties = {};
      for (const [name, child] of Object.entries(properties)) {
        out.properties[name] = convert(child, path ? `${path}.${name}` : name, amendments, used);
      }
      if (node.required) out.required = [...(node.required as string[])];
      // `.loose()` objects: known fields are typed, unknown ones kept (Kubernetes forbids both keywords at once).
      if (additional === true || (isObject(additional) && Object.keys(additional).length === 0)) {
        out['x-kubernetes-preserve-unknown-fields'] = true;
      }
    } else if (isObject(additional)) {
      if (Object.keys(additional).length === 0) out['x-kubernetes-preserve-unknown-fields'] = true;
      else out.additionalProperties = convert(additional, `${path}{}`, amendments, used);
      const keys = node.propertyNames as Json | undefined;
      if (keys?.pattern !== undefined) {
        keyPatternRule(out, String(keys.pattern), where, amendment);
      }
    } else {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  }
  return out;
}

const VALUE_KEYWORDS = [
  'description',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
] as const;

function copyValueValidations(node: Json, out: Schema, where: string, amendment?: Amendment): void {
  for (const key of VALUE_KEYWORDS) {
    if (node[key] !== undefined) (out as Record<string, unknown>)[key] = node[key];
  }
  // zod writes `.int()` as ±MAX_SAFE_INTEGER bounds; they say nothing, so leave them out.
  if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  if (typeof node.exclusiveMinimum === 'number') {
    out.minimum = node.exclusiveMinimum;
    out.exclusiveMinimum = true;
  }
  if (typeof node.exclusiveMaximum === 'number') {
    out.maximum = node.exclusiveMaximum;
    out.exclusiveMaximum = true;
  }
  if (node.const !== undefined) out.enum = [node.const];
  if (node.enum !== undefined) out.enum = [...(node.enum as unknown[])];
  if (node.default !== undefined) out.default = node.default;
  if (typeof node.format === 'string' && KUBERNETES_FORMATS.has(node.format)) out.format = node.format;
  if (typeof node.pattern === 'string' && !amendment?.replacesPattern) {
    if (NOT_RE2.test(node.pattern)) {
      throw new Error(
        `${where}: pattern ${node.pattern} uses lookaround or backreferences, which RE2 lacks; ` +
          'amend the node with replacesPattern and rules',
      );
    }
    out.pattern = node.pattern;
  }
  if (amendment?.replacesKeyPattern && !node.propertyNames) {
    throw new Error(`${where}: replacesKeyPattern, but the map has no key pattern`);
  }
}

/** Map keys have no OpenAPI keyword in Kubernetes, so their pattern becomes a CEL rule. */
function keyPatternRule(out: Schema, pattern: string, where: string, amendment?: Amendment): void {
  if (amendment?.replacesKeyPattern) return;
  if (NOT_RE2.test(pattern)) {
    throw new Error(`${where}: key pattern ${pattern} needs an amendment with replacesKeyPattern and rules`);
  }
  const rule: ValidationRule = {
    rule: `self.all(k, k.matches(${celString(pattern)}))`,
    message: `keys must match ${pattern}`,
  };
  out['x-kubernetes-validations'] = [...(out['x-kubernetes-validations'] ?? []), rule];
}

/**
 * Unions: scalars of one JSON type keep that type and an `anyOf` of their value validations; anything else
 * (string-or-list, string-or-object) has no structural form and is left untyped for the controller to check.
 */
function convertUnion(node: Json, union: Json[], where: string): Schema {
  const types = new Set(union.map((b) => b.type));
  if (types.has('null')) throw new Error(`${where}: null is not a Kubernetes value; make the field optional`);
  const numeric = [...types].every((t) => t === 'integer' || t === 'number');
  const scalar = types.size === 1 && ['string', 'boolean'].includes(String([...types][0]));
  if (!numeric && !scalar) {
    const intOrString = types.size === 2 && types.has('integer') && types.has('string');
    return untyped(node, intOrString);
  }
  const integer = numeric && union.every((b) => b.type === 'integer' || Number.isInteger(b.const));
  const out: Schema = {
    type: numeric ? (integer ? 'integer' : 'number') : (union[0]!.type as Schema['type']),
  };
  copyValueValidations({ ...node, anyOf: undefined, oneOf: undefined }, out, where);
  out.anyOf = union.map((branch) => {
    const b: Schema = {};
    copyValueValidations({ ...branch, default: undefined, description: undefined }, b, where);
    return b;
  });
  return out;
}

function untyped(node: Json, intOrString: boolean): Schema {
  const out: Schema = intOrString
    ? { 'x-kubernetes-int-or-string': true }
    : { 'x-kubernetes-preserve-unknown-fields': true };
  if (typeof node.description === 'string') out.description = node.description;
  return out;
}

function amend(out: Schema, amendment: Amendment, path: string): void {
  if (amendment.rules?.length) {
    if (out.type === undefined) {
      throw new Error(`${path}: CEL cannot see an untyped node; check it in the controller instead`);
    }
    out['x-kubernetes-validations'] = [...(out['x-kubernetes-validations'] ?? []), ...amendment.rules];
  }
  if (amendment.set) Object.assign(out, amendment.set);
  if (amendment.require) {
    for (const field of amendment.require) {
      if (!out.properties?.[field]) throw new Error(`${path}: cannot require unknown field ${field}`);
    }
    out.required = [...new Set([...(out.required ?? []), ...amendment.require])];
  }
}

/** A CEL string literal (single-quoted; backslashes and quotes escaped). */
export function celString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** CEL for "exactly one of these optional fields is set". */
export function exactlyOne(fields: readonly string[]): string {
  return `${fields.map((f) => `(has(self.${f}) ? 1 : 0)`).join(' + ')} == 1`;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  /** 0 shows in `kubectl get`; 1 only with `-o wide`. */
  priority?: number;
}

export interface CrdDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  description: string;
  /** `metadata.name`: the one part of metadata a CRD may restrict. */
  name: z.ZodType;
  spec: z.ZodType;
  status: z.ZodType;
  /** Paths start at the object: `spec.code`, `status.conditions`. */
  amendments: Amendment[];
  printerColumns: PrinterColumn[];
}

/** The CustomResourceDefinition object (namespaced, one served and stored version, status subresource). */
export function customResourceDefinition(def: CrdDefinition): Record<string, unknown> {
  const body = structuralSchema(z.object({ spec: def.spec, status: def.status.optional() }), def.amendments);
  const openAPIV3Schema: Schema = {
    type: 'object',
    description: def.description,
    properties: {
      apiVersion: { type: 'string', description: `${def.group}/${def.version}` },
      kind: { type: 'string', description: def.kind },
      metadata: { type: 'object', properties: { name: structuralSchema(def.name) } },
      spec: body.properties!.spec!,
      status: body.properties!.status!,
    },
    required: ['spec'],
  };
  const problems = structuralProblems(openAPIV3Schema);
  if (problems.length > 0) throw new Error(`${def.kind} schema is not structural:\n${problems.join('\n')}`);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${def.group}`,
      labels: { 'app.kubernetes.io/name': 'serval', 'app.kubernetes.io/part-of': 'serval' },
    },
    spec: {
      group: def.group,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: def.categories,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: def.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
        },
      ],
    },
  };
}
