// Lambda's FunctionConfiguration both ways: the wire shape GetFunction and friends return (AWS's field
// names and formats), and a Function spec built from a CreateFunction/UpdateFunctionConfiguration body,
// checked by the one Function schema with each problem named by the request field the caller sent.
import { createHash } from 'node:crypto';
import { ApiError } from '../../../../apis/errors.ts';
import { type FunctionSpec, FunctionSpecSchema } from '../../../../apis/function.ts';
import type { ApiFunctionRecord } from '../../registry/api-functions.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import type { PublishedVersion } from '../../versions/version-store.ts';

export interface ConfigurationContext {
  region: string;
  /** A layer version's unzipped size by ARN, when the gateway knows the layer. */
  layerSize(arn: string): number | undefined;
}

/** `2026-12-01T18:40:00.000+0000`, the timestamp form Lambda's control plane uses. */
export function lambdaTimestamp(iso: string | number | Date): string {
  return new Date(iso).toISOString().replace('Z', '+0000');
}

export function functionConfiguration(
  ctx: ConfigurationContext,
  fn: FunctionDefinition,
  record: ApiFunctionRecord | undefined,
  version?: PublishedVersion,
): Record<string, unknown> {
  const spec = version?.spec ?? fn.spec;
  const qualifier = version?.version ?? '$LATEST';
  const codeSha256 = version?.codeSha256 ?? record?.codeSha256 ?? fn.codeSha256;
  const lastModified = version?.publishedAt ?? record?.lastModified;
  const variables = spec.environment;
  return {
    FunctionName: fn.name,
    FunctionArn: functionArn(ctx.region, fn.namespace, fn.name, version ? qualifier : undefined),
    Runtime: spec.runtime,
    Role: record?.role ?? roleOf(fn.namespace, spec),
    Handler: spec.handler,
    CodeSize: record && !version ? record.codeSize : 0,
    Description: spec.description ?? '',
    Timeout: spec.timeoutSeconds,
    MemorySize: spec.memoryMB,
    LastModified: lastModified ? lambdaTimestamp(lastModified) : lambdaTimestamp(new Date(0)),
    CodeSha256: Buffer.from(codeSha256, 'hex').toString('base64'),
    Version: qualifier,
    ...(Object.keys(variables).length > 0 ? { Environment: { Variables: variables } } : {}),
    TracingConfig: { Mode: 'PassThrough' },
    RevisionId: version
      ? uuidOf(`${fn.namespace}/${fn.name}:${version.version}:${version.configHash}`)
      : (record?.revisionId ?? uuidOf(`${fn.namespace}/${fn.name}:${fn.revision}:${fn.codeSha256}`)),
    ...(spec.layers?.length
      ? { Layers: spec.layers.map((arn) => ({ Arn: arn, CodeSize: ctx.layerSize(arn) ?? 0 })) }
      : {}),
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: spec.code.image ? 'Image' : 'Zip',
    ...(spec.imageConfig && {
      ImageConfigResponse: {
        ImageConfig: {
          EntryPoint: spec.imageConfig.entryPoint,
          Command: spec.imageConfig.command,
          WorkingDirectory: spec.imageConfig.workingDirectory,
        },
      },
    }),
    Architectures: record?.architectures ?? ['x86_64'],
    EphemeralStorage: { Size: spec.ephemeralStorageMB },
    SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
    ...(spec.tenancy ? { TenancyConfig: { TenantIsolationMode: spec.tenancy.mode } } : {}),
    ...(spec.maxConcurrencyPerEnvironment !== undefined
      ? {
          CapacityProviderConfig: {
            LambdaManagedInstancesCapacityProviderConfig: {
              PerExecutionEnvironmentMaxConcurrency: spec.maxConcurrencyPerEnvironment,
            },
          },
        }
      : {}),
    LoggingConfig: {
      LogFormat: spec.logging.format,
      ...(spec.logging.applicationLogLevel ? { ApplicationLogLevel: spec.logging.applicationLogLevel } : {}),
      ...(spec.logging.systemLogLevel ? { SystemLogLevel: spec.logging.systemLogLevel } : {}),
      LogGroup: `/serval/${fn.namespace}/${fn.name}`,
    },
  };
}

/** A manifest function's execution role: its ServiceAccount, written as an IAM role ARN. */
export function roleOf(namespace: string, spec: FunctionSpec): string {
  return `arn:serval:iam::${namespace}:role/${spec.serviceAccountName ?? 'default'}`;
}

/** A stable UUID-shaped id derived from text (revision ids of things that have no stored one). */
export function uuidOf(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const ROLE_ARN = /^arn:[a-z-]+:iam::[^:]*:role\/[a-zA-Z_0-9+=,.@\-/]{1,512}$/;

/** Request fields Serval has no equivalent of; refusing them beats silently ignoring what a caller relies on. */
const UNSUPPORTED = ['VpcConfig', 'FileSystemConfigs', 'ImageConfig', 'CodeSigningConfigArn', 'KMSKeyArn'];

/**
 * The spec a CreateFunction or UpdateFunctionConfiguration body asks for, over `base` (the current spec on
 * update). Absent fields keep their value; every field is validated by the Function schema.
 */
export function specFromRequest(
  body: Record<string, unknown>,
  base: Partial<FunctionSpec>,
  codeDir: string,
): FunctionSpec {
  for (const field of UNSUPPORTED) {
    const value = body[field];
    if (value !== undefined && value !== null && !isEmpty(value))
      throw new ApiError('InvalidParameterValueException', `${field}: is not supported by Serval`);
  }
  if (body.PackageType !== undefined && body.PackageType !== 'Zip')
    throw new ApiError('InvalidParameterValueException', 'PackageType: only Zip is supported by Serval');
  const env = body.Environment as { Variables?: unknown } | undefined;
  const storage = body.EphemeralStorage as { Size?: unknown } | undefined;
  const logging = body.LoggingConfig as Record<string, unknown> | undefined;
  const candidate: Record<string, unknown> = {
    ...base,
    code: { path: codeDir },
    ...defined({
      runtime: body.Runtime,
      handler: body.Handler,
      description: body.Description,
      timeoutSeconds: body.Timeout,
      memoryMB: body.MemorySize,
      ephemeralStorageMB: storage?.Size,
      environment: env ? (env.Variables ?? {}) : undefined,
      layers:
        body.Layers === undefined ? undefined : (body.Layers as unknown[]).length ? body.Layers : undefined,
    }),
  };
  if (body.Layers !== undefined && !Array.isArray(body.Layers))
    throw new ApiError('InvalidParameterValueException', 'Layers: must be a list of layer version ARNs');
  if (Array.isArray(body.Layers) && body.Layers.length === 0) delete candidate.layers;
  // Multi-concurrency (Lambda Managed Instances); Serval has no capacity providers, so only the concurrency counts.
  const managed = (body.CapacityProviderConfig as Record<string, unknown> | undefined)
    ?.LambdaManagedInstancesCapacityProviderConfig as Record<string, unknown> | undefined;
  if (managed?.PerExecutionEnvironmentMaxConcurrency !== undefined)
    candidate.maxConcurrencyPerEnvironment = managed.PerExecutionEnvironmentMaxConcurrency;
  const tenancy = body.TenancyConfig as { TenantIsolationMode?: unknown } | undefined;
  if (tenancy !== undefined && tenancy !== null) candidate.tenancy = { mode: tenancy.TenantIsolationMode };
  // Chosen at creation and immutable, as in Lambda (docs/tenancy.md).
  if (
    base.runtime !== undefined &&
    (candidate.tenancy as { mode?: unknown } | undefined)?.mode !== base.tenancy?.mode
  )
    throw new ApiError(
      'InvalidParameterValueException',
      'TenancyConfig: tenancy cannot be changed after the function is created',
    );
  if (logging) {
    candidate.logging = defined({
      format: logging.LogFormat ?? base.logging?.format,
      applicationLogLevel: logging.ApplicationLogLevel ?? base.logging?.applicationLogLevel,
      systemLogLevel: logging.SystemLogLevel ?? base.logging?.systemLogLevel,
    });
  }
  return checkedSpec(candidate);
}

/** The spec after the one Function schema's checks; a problem is named by the request field it came from. */
export function checkedSpec(candidate: unknown): FunctionSpec {
  const parsed = FunctionSpecSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError('InvalidParameterValueException', `${requestField(issue.path)}: ${issue.message}`);
  }
  return parsed.data;
}

/** Role and Architectures, which Serval keeps beside the spec. */
export function roleAndArchitectures(
  body: Record<string, unknown>,
  current?: { role: string; architectures: string[] },
): { role: string; architectures: string[] } {
  const role = body.Role ?? current?.role;
  if (typeof role !== 'string' || !ROLE_ARN.test(role))
    throw new ApiError(
      'InvalidParameterValueException',
      'Role: must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
    );
  const architectures = body.Architectures ?? current?.architectures ?? ['x86_64'];
  if (
    !Array.isArray(architectures) ||
    architectures.length !== 1 ||
    !['x86_64', 'arm64'].includes(architectures[0])
  )
    throw new ApiError('InvalidParameterValueException', 'Architectures: must be ["x86_64"] or ["arm64"]');
  return { role, architectures: architectures as string[] };
}

/** The request field a schema path came from, as the caller wrote it. */
function requestField(path: PropertyKey[]): string {
  const [head, ...rest] = path.map(String);
  const tail = rest.length ? `.${rest.join('.')}` : '';
  switch (head) {
    case 'runtime':
      return 'Runtime';
    case 'handler':
      return 'Handler';
    case 'description':
      return 'Description';
    case 'timeoutSeconds':
      return 'Timeout';
    case 'memoryMB':
      return 'MemorySize';
    case 'ephemeralStorageMB':
      return 'EphemeralStorage.Size';
    case 'environment':
      return `Environment.Variables${tail}`;
    case 'layers':
      return rest.length ? `Layers[${rest[0]}]` : 'Layers';
    case 'logging':
      return `LoggingConfig${rest[0] === 'format' ? '.LogFormat' : rest[0] === 'applicationLogLevel' ? '.ApplicationLogLevel' : rest[0] === 'systemLogLevel' ? '.SystemLogLevel' : ''}`;
    case 'reservedConcurrency':
      return 'ReservedConcurrentExecutions';
    case 'maxConcurrencyPerEnvironment':
      return 'CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.PerExecutionEnvironmentMaxConcurrency';
    case 'url':
      return rest.map(pascal).join('.') || 'FunctionUrlConfig';
    case 'async':
      return rest[0] === 'maximumEventAgeSeconds'
        ? 'MaximumEventAgeInSeconds'
        : rest[0] === 'destinations'
          ? 'DestinationConfig'
          : rest.map(pascal).join('.') || 'EventInvokeConfig';
    case 'policy':
      return 'Statement';
    case undefined:
      return 'FunctionConfiguration';
    default:
      return `${head}${tail}`;
  }
}

function pascal(part: string): string {
  return /^\d+$/.test(part) ? `[${part}]` : part.charAt(0).toUpperCase() + part.slice(1);
}

function defined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object' && value !== null)
    return Object.values(value).every((v) => v === undefined || isEmpty(v));
  return value === '';
}
