// The rules that make kube-apiserver refuse a CRD schema as non-structural (apiextensions-apiserver
// schema/validation.go), as a pure check: the generator runs it before writing, the tests run it on purpose-made
// bad schemas.
import type { Schema } from './crd.ts';

/** Formats the API server validates (apiextensions-apiserver validation/formats.go); others are ignored there. */
export const KUBERNETES_FORMATS = new Set([
  'uri',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'cidr',
  'uuid',
  'byte',
  'date',
  'date-time',
]);

/** RE2 (Go's regexp, used by `pattern` and CEL `matches`) has no lookaround and no backreferences. */
export const NOT_RE2 = /\(\?<?[=!]|\\[1-9]|\\k</;

/**
 * Everything that makes the API server refuse a schema as non-structural (or that we promise never to emit),
 * as `path: problem` lines; empty when the schema is fine.
 */
export function structuralProblems(
  schema: Schema,
  path = '<root>',
  level: 'root' | 'field' = 'root',
): string[] {
  const problems: string[] = [];
  const typed = schema.type !== undefined;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  if (!typed && !preserve && !intOrString) problems.push(`${path}: no type`);
  if (level === 'root' && schema.type !== 'object') problems.push(`${path}: the root must be an object`);
  if (schema.properties && schema.additionalProperties) {
    problems.push(`${path}: properties and additionalProperties together`);
  }
  if (typeof (schema as { additionalProperties?: unknown }).additionalProperties === 'boolean') {
    problems.push(`${path}: additionalProperties must be a schema`);
  }
  if (schema.type === 'array' && !schema.items) problems.push(`${path}: array without items`);
  if (schema.type !== 'object' && (schema.properties || schema.additionalProperties)) {
    problems.push(`${path}: properties on a ${schema.type ?? 'untyped'} node`);
  }
  if (schema['x-kubernetes-validations'] && !typed) problems.push(`${path}: CEL rules on an untyped node`);
  if (schema.pattern !== undefined && NOT_RE2.test(schema.pattern))
    problems.push(`${path}: pattern is not RE2`);
  if (schema.format !== undefined && !KUBERNETES_FORMATS.has(schema.format)) {
    problems.push(`${path}: format ${schema.format} is not one Kubernetes knows`);
  }
  for (const branch of schema.anyOf ?? []) {
    for (const forbidden of [
      'type',
      'default',
      'description',
      'additionalProperties',
      'properties',
      'items',
    ]) {
      if (forbidden in branch) problems.push(`${path}: anyOf branch sets ${forbidden}`);
    }
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    problems.push(...structuralProblems(child, `${path}.${name}`, 'field'));
    if (level === 'field' && name === 'metadata')
      problems.push(`${path}.metadata: metadata in a nested object`);
  }
  if (schema.items) problems.push(...structuralProblems(schema.items, `${path}[]`, 'field'));
  if (schema.additionalProperties) {
    problems.push(...structuralProblems(schema.additionalProperties, `${path}{}`, 'field'));
  }
  for (const name of schema.required ?? []) {
    if (!schema.properties?.[name]) problems.push(`${path}: requires ${name}, which it does not define`);
  }
  return problems;
}
