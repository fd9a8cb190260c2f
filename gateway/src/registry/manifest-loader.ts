// Reads Function manifests from a directory — the same YAML `kubectl apply` takes — keeping the good ones
// and describing each bad one by file, document and field.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { AliasSchema, type AliasSpec } from '../../../apis/alias.ts';
import { type CodeSigningConfig, CodeSigningConfigSchema } from '../../../apis/code-signing.ts';
import { EventSourceMappingSchema } from '../../../apis/event-source-mapping.ts';
import { FunctionSchema, MAPPING_TENANCY_CONFLICT } from '../../../apis/function.ts';
import type { DeclaredMapping } from '../event-sources/catalog.ts';
import { hashDirectory, materialiseInline } from './code.ts';
import type { FunctionDefinition } from './function-definition.ts';
import { LayerStore } from './layer-store.ts';

export interface ManifestProblem {
  file: string;
  /** 1-based position of the document in its file. */
  document: number;
  field: string;
  message: string;
}

export interface LoadedAlias {
  namespace: string;
  name: string;
  spec: AliasSpec;
  source: string;
}

export interface LoadedManifests {
  functions: FunctionDefinition[];
  codeSigningConfigs: CodeSigningConfig[];
  aliases: LoadedAlias[];
  eventSourceMappings: DeclaredMapping[];
  problems: ManifestProblem[];
}

export function formatProblem(p: ManifestProblem): string {
  return `${p.file} (document ${p.document}): ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export interface LoadOptions {
  /**
   * Whether this machine can run a function; a message refuses it (local mode: a declared Python version
   * that is not installed). Cluster mode has no such check here: the runtime image decides.
   */
  checkFunction?: ((fn: FunctionDefinition) => string | undefined) | undefined;
}

export function loadManifestDirectory(
  dir: string,
  dataDir: string,
  options: LoadOptions = {},
): LoadedManifests {
  const root = resolve(dir);
  const files = readdirSync(root)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => join(root, f));
  const result: LoadedManifests = {
    functions: [],
    codeSigningConfigs: [],
    aliases: [],
    eventSourceMappings: [],
    problems: [],
  };
  const mappingsAt = new Map<DeclaredMapping, { file: string; document: number }>();
  const seen = new Map<string, string>();
  const perTenant = new Set<string>();
  for (const file of files) {
    const shown = relative(process.cwd(), file) || file;
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    for (const [i, doc] of docs.entries()) {
      const at = { file: shown, document: i + 1 };
      const read: DocumentRead =
        doc.errors.length > 0
          ? { problems: [['', `invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`] as Issue] }
          : readDocument(doc.toJS(), dirname(file), dataDir, `${shown} (document ${i + 1})`);
      if (read.problems) {
        for (const [field, message] of read.problems) result.problems.push({ ...at, field, message });
        continue;
      }
      if (read.alias) {
        result.aliases.push(read.alias);
        continue;
      }
      if (read.signingConfig) {
        result.codeSigningConfigs.push(read.signingConfig);
        continue;
      }
      if (read.mapping) {
        result.eventSourceMappings.push(read.mapping);
        mappingsAt.set(read.mapping, at);
        continue;
      }
      if (!read.fn) continue; // an empty document between separators
      const unavailable = options.checkFunction?.(read.fn);
      if (unavailable) {
        result.problems.push({ ...at, field: 'spec.runtime', message: unavailable });
        continue;
      }
      const key = `${read.fn.namespace}/${read.fn.name}`;
      const earlier = seen.get(key);
      if (earlier) {
        result.problems.push({
          ...at,
          field: 'metadata.name',
          message: `function ${key} is already defined in ${earlier}`,
        });
        continue;
      }
      seen.set(key, read.fn.source);
      if (read.fn.spec.tenancy) perTenant.add(key);
      result.functions.push(read.fn);
    }
  }
  // A mapping feeds a function of the same directory; one for an unknown function is refused, and so is one
  // for a function in tenant isolation mode.
  result.eventSourceMappings = result.eventSourceMappings.filter((m) => {
    const key = `${m.namespace}/${m.spec.functionName}`;
    const refusal = !seen.has(key)
      ? `function ${key} is not defined`
      : perTenant.has(key)
        ? `InvalidParameterValueException: ${MAPPING_TENANCY_CONFLICT}`
        : undefined;
    if (!refusal) return true;
    result.problems.push({ ...mappingsAt.get(m)!, field: 'spec.functionName', message: refusal });
    return false;
  });
  return result;
}

type Issue = [field: string, message: string];
type DocumentRead = {
  fn?: FunctionDefinition;
  signingConfig?: CodeSigningConfig;
  alias?: LoadedAlias;
  mapping?: DeclaredMapping;
  problems?: Issue[];
};

function readDocument(value: unknown, baseDir: string, dataDir: string, source: string): DocumentRead {
  if (value === null || value === undefined) return {};
  const kind = (value as { kind?: unknown }).kind;
  if (kind === 'Alias') {
    const alias = AliasSchema.safeParse(value);
    if (!alias.success) return { problems: alias.error.issues.map((i) => [fieldPath(i), i.message]) };
    const { metadata, spec } = alias.data;
    return { alias: { namespace: metadata.namespace, name: spec.name ?? metadata.name, spec, source } };
  }
  if (kind === 'CodeSigningConfig') {
    const config = CodeSigningConfigSchema.safeParse(value);
    if (!config.success) return { problems: config.error.issues.map((i) => [fieldPath(i), i.message]) };
    return { signingConfig: config.data };
  }
  if (kind === 'EventSourceMapping') {
    const mapping = EventSourceMappingSchema.safeParse(value);
    if (!mapping.success) return { problems: mapping.error.issues.map((i) => [fieldPath(i), i.message]) };
    const { metadata, spec } = mapping.data;
    return { mapping: { namespace: metadata.namespace, name: metadata.name, spec, source } };
  }
  if (kind !== 'Function') {
    return {
      problems: [
        [
          'kind',
          `unsupported kind ${JSON.stringify(kind)}; expected Function, Alias, EventSourceMapping or CodeSigningConfig`,
        ],
      ],
    };
  }
  const parsed = FunctionSchema.safeParse(value);
  if (!parsed.success) return { problems: parsed.error.issues.map((i) => [fieldPath(i), i.message]) };
  const { metadata, spec } = parsed.data;
  let code: { dir: string; sha256: string };
  if (spec.code.image) {
    const message =
      'InvalidParameterValueException: container-image functions (PackageType Image) run in cluster mode only; locally use path or inline';
    return { problems: [['spec.code.image', message]] };
  }
  if (spec.code.configMap || spec.code.url) {
    const kind = spec.code.configMap ? 'configMap' : 'url';
    return {
      problems: [[`spec.code.${kind}`, 'is served in cluster mode only; use path or inline locally']],
    };
  }
  if (spec.code.inline) {
    code = materialiseInline(dataDir, spec.code.inline);
  } else {
    const codeDir = resolve(baseDir, spec.code.path!);
    if (!isDirectory(codeDir)) return { problems: [['spec.code.path', `${codeDir} is not a directory`]] };
    code = { dir: codeDir, sha256: hashDirectory(codeDir) };
  }
  // Layers are published through the API into the same data directory; a manifest names their ARNs.
  const layers = new LayerStore(dataDir);
  const missing = (spec.layers ?? []).findIndex((arn) => !layers.byArn(arn));
  if (missing >= 0) {
    const arn = spec.layers![missing]!;
    return { problems: [[`spec.layers[${missing}]`, `layer version ${arn} is not published`]] };
  }
  return {
    fn: {
      namespace: metadata.namespace,
      name: metadata.name,
      spec,
      codeDir: code.dir,
      layersDir: layers.optDirectory(spec.layers ?? []),
      codeSha256: code.sha256,
      // The configuration's fingerprint: when `serval dev` reloads an edited manifest, environments started
      // with the old settings are retired even when the code is the same.
      revision: createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16),
      source,
    },
  };
}

function fieldPath(issue: z.core.$ZodIssue): string {
  return issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
