// The serval.dev/v1alpha1 Function schema: the one definition behind manifest validation, TS types and the CRD.
import { isIP } from 'node:net';
import { z } from 'zod';
import { AsyncConfigSchema } from './async-config.ts';
import { CodeSigningSchema } from './code-signing.ts';

export const API_VERSION = 'serval.dev/v1alpha1';

export const MANAGED_RUNTIMES = [
  'nodejs22.x',
  'nodejs24.x',
  'python3.9',
  'python3.10',
  'python3.11',
  'python3.12',
  'python3.13',
] as const;
export const CUSTOM_RUNTIMES = ['provided', 'provided.al2023'] as const;
export const RUNTIMES = [...MANAGED_RUNTIMES, ...CUSTOM_RUNTIMES] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Variables Lambda sets itself; a function may not define them (reference §2.1). */
export const RESERVED_ENV_KEYS = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
] as const;

const ENV_KEY = /^[a-zA-Z][a-zA-Z0-9_]+$/;
const ENV_TOTAL_BYTES = 4096;
// Kubernetes object names are DNS-1123 labels; Lambda names are [a-zA-Z0-9-_]{1,64}. A Function's name must be both.
const FUNCTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A layer version's ARN (`aws` as the AWS tools write it, or `serval`). */
export const LAYER_VERSION_ARN =
  /^arn:(serval|aws):lambda:[a-z0-9-]+:([a-z0-9]([-a-z0-9]*[a-z0-9])?):layer:([a-zA-Z0-9-_]{1,64}):([1-9][0-9]*)$/;
const INLINE_FILE = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[^\0]+$/;

const environment = z
  .record(z.string().regex(ENV_KEY, 'must match [a-zA-Z]([a-zA-Z0-9_])+'), z.string())
  .superRefine((vars, ctx) => {
    for (const key of Object.keys(vars)) {
      if ((RESERVED_ENV_KEYS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} is reserved by the platform` });
      }
    }
    const size = Object.entries(vars).reduce(
      (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
      0,
    );
    if (size > ENV_TOTAL_BYTES) {
      ctx.addIssue({ code: 'custom', message: `total size ${size} bytes exceeds the 4 KB limit` });
    }
  });

const code = z
  .object({
    /** A directory on the gateway's machine: local mode only. */
    path: z.string().min(1).optional(),
    /** Files by relative path, like CloudFormation's ZipFile. */
    inline: z
      .record(z.string().regex(INLINE_FILE, 'must be a relative path inside the code directory'), z.string())
      .optional(),
    /** Every key of a ConfigMap in the function's namespace becomes a file: cluster mode. */
    configMap: z
      .object({ name: z.string().regex(FUNCTION_NAME).max(253) })
      .strict()
      .optional(),
    /** A single file fetched by the controller and checked against its sha256 before anything runs it. */
    url: z
      .object({
        href: z.url({ protocol: /^https?$/ }),
        sha256: z.string().regex(/^[a-f0-9]{64}$/, 'must be 64 lower-case hex digits'),
        /** File name inside the code directory (default: the last path segment of href). */
        file: z.string().regex(INLINE_FILE).max(255).optional(),
      })
      .strict()
      .optional(),
    /**
     * A container image (Lambda's PackageType Image, cluster mode): it brings its own runtime interface
     * client, which finds the Runtime API at AWS_LAMBDA_RUNTIME_API (docs/kubernetes.md, ADR-40).
     */
    image: z
      .object({
        /** An image reference the nodes can run (pulled if absent, by the usual Kubernetes rules). */
        uri: z
          .string()
          .min(1)
          .max(512)
          .regex(/^[a-z0-9][^\s]*$/, 'must be an image reference (registry/name:tag or @sha256:…)'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine(
    (c) => [c.path, c.inline, c.configMap, c.url, c.image].filter((x) => x !== undefined).length === 1,
    { message: 'exactly one of path, inline, configMap, url or image is required' },
  );

/** Lambda's ImageConfig: overrides of the image's ENTRYPOINT, CMD and WORKDIR. */
const imageConfig = z
  .object({
    entryPoint: z.array(z.string().min(1).max(1024)).min(1).max(1500).optional(),
    command: z.array(z.string().max(1024)).max(1500).optional(),
    workingDirectory: z.string().regex(/^\//, 'must be an absolute path').max(1000).optional(),
  })
  .strict();

const logging = z
  .object({
    format: z.enum(['Text', 'JSON']).default('Text'),
    applicationLogLevel: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']).optional(),
    systemLogLevel: z.enum(['DEBUG', 'INFO', 'WARN']).optional(),
  })
  .strict();

const cors = z
  .object({
    allowOrigins: z.array(z.string().min(1).max(253)).max(100).optional(),
    allowMethods: z
      .array(z.string().regex(/^(\*|[A-Z]{1,6})$/, 'must be an HTTP method or *'))
      .max(6)
      .optional(),
    allowHeaders: z.array(z.string().min(1).max(1024)).max(100).optional(),
    exposeHeaders: z.array(z.string().min(1).max(1024)).max(100).optional(),
    allowCredentials: z.boolean().optional(),
    maxAge: z.number().int().min(0).max(86400).optional(),
  })
  .strict();

/** A function URL (reference §5): its own HTTPS-style endpoint with payload format 2.0. */
const url = z
  .object({
    authType: z.enum(['NONE', 'JWT']).default('NONE'),
    cors: cors.optional(),
    /** BUFFERED answers once the function returns (6 MB); RESPONSE_STREAM streams as it writes (200 MB). */
    invokeMode: z.enum(['BUFFERED', 'RESPONSE_STREAM']).default('BUFFERED'),
    /** `$LATEST` or an alias name; Lambda allows no version numbers here. */
    qualifier: z
      .string()
      .regex(/^(\$LATEST|[a-zA-Z0-9-_]{1,128})$/)
      .refine((q) => !/^\d+$/.test(q), 'must be $LATEST or an alias, not a version number')
      .optional(),
  })
  .strict();

/** ALB listener rules that route to the function (reference §6). */
const alb = z
  .object({
    rules: z
      .array(
        z
          .object({
            host: z.string().min(1).max(128).optional(),
            pathPrefix: z.string().regex(/^\//, 'must start with /').optional(),
            priority: z.number().int().min(1).max(50000),
          })
          .strict()
          .refine((r) => r.host !== undefined || r.pathPrefix !== undefined, 'needs a host or a pathPrefix'),
      )
      .min(1),
    multiValueHeaders: z.boolean().default(false),
  })
  .strict();

/** Condition operators of the policy grammar (IAM's names); each also takes `ForAnyValue:`/`ForAllValues:` and `IfExists`. */
export const CONDITION_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'IpAddress',
  'NotIpAddress',
  'Bool',
  'Null',
] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];
/** Request context keys a Condition may test; `jwt:<claim>` reads any top-level claim of the caller's token. */
export const CONDITION_KEYS = [
  'serval:SourceIp',
  'serval:SecureTransport',
  'serval:PrincipalId',
  'serval:PrincipalNamespace',
  'serval:Issuer',
  'lambda:FunctionUrlAuthType',
] as const;

const CONDITION_OPERATOR = new RegExp(
  `^(ForAnyValue:|ForAllValues:)?(${CONDITION_OPERATORS.join('|')})(IfExists)?$`,
);
const CONDITION_KEY = new RegExp(`^(jwt:[A-Za-z0-9_.-]{1,128}|${CONDITION_KEYS.join('|')})$`, 'i');
const oneOrMany = (item: z.ZodString) => z.union([item, z.array(item).min(1).max(100)]);
const conditionValue = z.union([z.string(), z.boolean(), z.number()]);

/** `*`, a namespace (any caller of that namespace) or one caller, `serval:<issuer>:<subject>`. */
const principal = z.union([
  z.literal('*'),
  z
    .object({
      Serval: oneOrMany(
        z
          .string()
          .regex(
            /^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?|serval:[a-z0-9-]+:.+)$/,
            'must be *, a namespace or serval:<issuer>:<subject>',
          ),
      ),
    })
    .strict(),
]);

const condition = z
  .record(
    z.string(),
    z.record(z.string(), z.union([conditionValue, z.array(conditionValue).min(1).max(100)])),
  )
  .superRefine((block, ctx) => {
    for (const [operator, keys] of Object.entries(block)) {
      if (!CONDITION_OPERATOR.test(operator)) {
        const message = `must be one of ${CONDITION_OPERATORS.join(', ')} (with optional ForAnyValue:/ForAllValues: and IfExists)`;
        ctx.addIssue({ code: 'custom', path: [operator], message });
        continue;
      }
      for (const [key, raw] of Object.entries(keys)) {
        if (!CONDITION_KEY.test(key)) {
          const message = `must be jwt:<claim> or one of ${CONDITION_KEYS.join(', ')}`;
          ctx.addIssue({ code: 'custom', path: [operator, key], message });
          continue;
        }
        const values = (Array.isArray(raw) ? raw : [raw]).map(String);
        const bad = /IpAddress/.test(operator)
          ? values.find((v) => !isCidr(v))
          : /Bool|Null/.test(operator)
            ? values.find((v) => v !== 'true' && v !== 'false')
            : undefined;
        if (bad !== undefined) {
          const wanted = /IpAddress/.test(operator) ? 'an IP address or CIDR block' : 'true or false';
          ctx.addIssue({ code: 'custom', path: [operator, key], message: `"${bad}" is not ${wanted}` });
        }
      }
    }
  });

/** One statement of an IAM-style policy (docs/auth.md): Effect, Principal, Action, Resource, Condition. */
export const PolicyStatementSchema = z
  .object({
    Sid: z.string().max(100).optional(),
    Effect: z.enum(['Allow', 'Deny']),
    Principal: principal.optional(),
    Action: oneOrMany(
      z.string().regex(/^(\*|(lambda|serval):[A-Za-z*?]+)$/i, 'must be * or lambda:<Action>'),
    ),
    Resource: oneOrMany(
      z.string().regex(/^(\*|arn:serval:\S+)$/, 'must be * or an arn:serval: ARN'),
    ).optional(),
    Condition: condition.optional(),
  })
  .strict();
export type PolicyStatement = z.infer<typeof PolicyStatementSchema>;

/** A function's resource-based policy; a statement without Resource covers the function and all its qualifiers. */
const policy = z
  .object({
    statements: z
      .array(
        PolicyStatementSchema.refine((s) => s.Principal !== undefined, {
          path: ['Principal'],
          message: 'is required in a resource-based policy',
        }),
      )
      .min(1)
      .max(100),
  })
  .strict();

/** Tenant isolation (reference §14.6): each tenant id gets execution environments of its own. Immutable. */
const tenancy = z.object({ mode: z.enum(['PER_TENANT']) }).strict();

/** What a recursive loop of this function meets after 16 hops (Put/GetFunctionRecursionConfig). */
export const RECURSIVE_LOOP = ['Allow', 'Terminate'] as const;
export type RecursiveLoop = (typeof RECURSIVE_LOOP)[number];

/**
 * Features Lambda refuses on a function in tenant isolation mode: they invoke it without a tenant id. Each
 * names its field; the event source mappings that feed such a function are refused where they are loaded.
 */
export const TENANCY_EXCLUDED_FIELDS = {
  url: 'function URLs',
  alb: 'load balancer targets',
} as const;

function isCidr(value: string): boolean {
  const [address = '', prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Lambda's refusal of a runtime, handler or layers on an image function (CreateFunction, PackageType Image). */
export const IMAGE_EXCLUDED_FIELDS = ['runtime', 'handler', 'layers'] as const;
export const IMAGE_EXCLUDED_MESSAGE =
  "InvalidParameterValueException: Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.";

export const FunctionSpecSchema = z
  .object({
    /** Required, except for an image function, which has none (its image is its runtime). */
    runtime: z.enum(RUNTIMES).optional(),
    handler: z
      .string()
      .max(128)
      .regex(/^[^\s]+$/, 'must not contain whitespace')
      .optional(),
    description: z.string().max(256).optional(),
    code,
    memoryMB: z.number().int().min(128).max(10240).default(128),
    timeoutSeconds: z.number().int().min(1).max(900).default(3),
    ephemeralStorageMB: z.number().int().min(512).max(10240).default(512),
    environment: environment.default({}),
    reservedConcurrency: z.number().int().min(0).optional(),
    /** The execution role: the ServiceAccount its pods run as (cluster mode). */
    serviceAccountName: z.string().regex(FUNCTION_NAME).max(253).optional(),
    /** Secrets whose keys become environment variables (cluster mode): the "encrypted environment" story. */
    environmentFrom: z
      .array(
        z
          .object({ secretRef: z.object({ name: z.string().regex(FUNCTION_NAME).max(253) }).strict() })
          .strict(),
      )
      .max(10)
      .optional(),
    logging: logging.default({ format: 'Text' }),
    url: url.optional(),
    alb: alb.optional(),
    policy: policy.optional(),
    async: AsyncConfigSchema.optional(),
    /** Up to five layer versions, unpacked into /opt in this order (a later one's files win). */
    layers: z
      .array(z.string().regex(LAYER_VERSION_ARN, 'must be a layer version ARN (…:layer:<name>:<version>)'))
      .max(5)
      .optional(),
    /** Run only code a trusted key signed (docs/code-signing.md). */
    codeSigning: CodeSigningSchema.optional(),
    tenancy: tenancy.optional(),
    recursiveLoop: z.enum(RECURSIVE_LOOP).default('Terminate'),
    /** ENTRYPOINT, CMD and WORKDIR overrides of an image function (Lambda's ImageConfig). */
    imageConfig: imageConfig.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.code.image) {
      for (const field of IMAGE_EXCLUDED_FIELDS) {
        if (s[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: IMAGE_EXCLUDED_MESSAGE });
      }
      return;
    }
    if (s.imageConfig) {
      const message =
        'InvalidParameterValueException: ImageConfig is only supported for PackageType Image (code.image)';
      ctx.addIssue({ code: 'custom', path: ['imageConfig'], message });
    }
    if (s.runtime === undefined) {
      ctx.addIssue({ code: 'custom', path: ['runtime'], message: 'is required unless code.image is set' });
    } else if (s.handler === undefined && !s.runtime.startsWith('provided')) {
      ctx.addIssue({ code: 'custom', path: ['handler'], message: 'is required for managed runtimes' });
    }
  })
  .superRefine((s, ctx) => {
    if (!s.tenancy) return;
    for (const [field, feature] of Object.entries(TENANCY_EXCLUDED_FIELDS)) {
      if (s[field as keyof typeof TENANCY_EXCLUDED_FIELDS] === undefined) continue;
      ctx.addIssue({ code: 'custom', path: [field], message: tenancyConflict(feature) });
    }
  });

/** Why an event source mapping may not feed a function in tenant isolation mode. */
export const MAPPING_TENANCY_CONFLICT =
  'event source mappings are not supported for a function with tenancy mode PER_TENANT (they pass no tenant id)';

/** The refusal of a feature that cannot pass a tenant id, in Lambda's vocabulary. */
export function tenancyConflict(feature: string): string {
  return `InvalidParameterValueException: ${feature} are not supported for a function with tenancy mode PER_TENANT`;
}

export const FunctionSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Function'),
    metadata: z
      .object({
        name: z
          .string()
          .max(64)
          .regex(FUNCTION_NAME, 'must be lower-case letters, digits and "-" (DNS-1123)'),
        namespace: z.string().max(63).regex(FUNCTION_NAME).default('default'),
        labels: z.record(z.string(), z.string()).optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .loose(),
    spec: FunctionSpecSchema,
  })
  .loose();

export type FunctionResource = z.infer<typeof FunctionSchema>;
export type FunctionSpec = z.infer<typeof FunctionSpecSchema>;
