// The three serval.dev CRDs: names, printer columns, and the zod refinements restated as CEL. Every rule here
// mirrors a refine in apis/*.ts; test/kubernetes/crds.test.ts checks that zod and the API server agree.
import { stringify } from 'yaml';
import { AliasSchema } from './alias.ts';
import { DestinationSchema } from './async-config.ts';
import {
  type Amendment,
  type CrdDefinition,
  celString,
  customResourceDefinition,
  exactlyOne,
  type ValidationRule,
} from './crd.ts';
import { EventSourceMappingSchema, SOURCE_KINDS } from './event-source-mapping.ts';
import {
  API_VERSION,
  FunctionSchema,
  IMAGE_EXCLUDED_FIELDS,
  IMAGE_EXCLUDED_MESSAGE,
  RESERVED_ENV_KEYS,
  TENANCY_EXCLUDED_FIELDS,
  tenancyConflict,
} from './function.ts';
import { AliasStatusSchema, EventSourceMappingStatusSchema, FunctionStatusSchema } from './status.ts';

const [GROUP, VERSION] = API_VERSION.split('/') as [string, string];
const CATEGORIES = ['serval'];

// Every field of `code` is a source and every field of a destination a target; read them from the schemas.
const CODE_SOURCES = Object.keys(FunctionSchema.shape.spec.shape.code.shape);
const DESTINATION_TARGETS = Object.keys(DestinationSchema.shape);

/** INLINE_FILE (function.ts) without its lookaheads: a relative path with no `..` segment. */
const relativeFile = (v: string) =>
  `${v}.size() > 0 && !${v}.startsWith('/') && !${v}.contains('\\u0000') && !${v}.matches(${celString('(^|/)\\.\\.(/|$)')})`;
const RELATIVE_FILE_MESSAGE = 'must be a relative path inside the code directory';

const age = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' } as const;

const destinationRules: ValidationRule[] = [
  {
    rule: exactlyOne(DESTINATION_TARGETS),
    message: `needs exactly one of ${DESTINATION_TARGETS.join(', ')}`,
  },
];

/** Conditions are a map keyed by type, so server-side apply merges them per condition. */
const conditionsAsMap = (path: string): Amendment => ({
  path,
  why: 'metav1.Condition lists are keyed by type',
  set: { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
});

export const FUNCTION_CRD: CrdDefinition = {
  group: GROUP,
  version: VERSION,
  kind: 'Function',
  plural: 'functions',
  singular: 'function',
  shortNames: ['svfn', 'fn'],
  categories: CATEGORIES,
  description: 'A Lambda-compatible function: runtime, handler, code and configuration ($LATEST).',
  name: FunctionSchema.shape.metadata.shape.name,
  spec: FunctionSchema.shape.spec,
  status: FunctionStatusSchema,
  amendments: [
    {
      path: 'spec',
      why:
        'FunctionSpecSchema: handler is required unless the runtime is provided*; an image function has no ' +
        'runtime, handler or layers; tenancy excludes the ' +
        'features that invoke without a tenant id; and tenancy is immutable (a transition rule, which zod ' +
        'cannot state: the gateway checks reloads itself)',
      rules: [
        {
          rule: "has(self.code.image) || has(self.handler) || (has(self.runtime) && self.runtime.startsWith('provided'))",
          message: 'handler is required for managed runtimes',
          fieldPath: '.handler',
          reason: 'FieldValueRequired',
        },
        {
          rule: 'has(self.code.image) || has(self.runtime)',
          message: 'runtime is required unless code.image is set',
          fieldPath: '.runtime',
          reason: 'FieldValueRequired',
        },
        ...IMAGE_EXCLUDED_FIELDS.map((field) => ({
          rule: `!has(self.code.image) || !has(self.${field})`,
          message: IMAGE_EXCLUDED_MESSAGE,
          fieldPath: `.${field}`,
        })),
        {
          rule: 'has(self.code.image) || !has(self.imageConfig)',
          message:
            'InvalidParameterValueException: ImageConfig is only supported for PackageType Image (code.image)',
          fieldPath: '.imageConfig',
        },
        ...Object.entries(TENANCY_EXCLUDED_FIELDS).map(([field, feature]) => ({
          rule: `!has(self.tenancy) || !has(self.${field})`,
          message: tenancyConflict(feature),
          fieldPath: `.${field}`,
        })),
        {
          rule: "(has(self.tenancy) ? self.tenancy.mode : '') == (has(oldSelf.tenancy) ? oldSelf.tenancy.mode : '')",
          message: 'InvalidParameterValueException: tenancy cannot be changed after the function is created',
          fieldPath: '.tenancy',
        },
      ],
    },
    {
      path: 'spec.code',
      why: 'code: exactly one source',
      rules: [
        { rule: exactlyOne(CODE_SOURCES), message: `exactly one of ${CODE_SOURCES.join(', ')} is required` },
      ],
    },
    {
      path: 'spec.code.inline',
      why: 'INLINE_FILE uses lookaheads (not RE2), so its keys are checked in CEL',
      replacesKeyPattern: true,
      rules: [{ rule: `self.all(f, ${relativeFile('f')})`, message: `file names ${RELATIVE_FILE_MESSAGE}` }],
    },
    {
      path: 'spec.code.url.file',
      why: 'INLINE_FILE uses lookaheads (not RE2)',
      replacesPattern: true,
      rules: [{ rule: relativeFile('self'), message: RELATIVE_FILE_MESSAGE }],
    },
    {
      path: 'spec.environment',
      why:
        'environment: reserved keys. The 4 KB total (which CEL cannot sum) implies at most 2048 variables, ' +
        'a bound that keeps the rule within the cost budget; the total itself is for the controller',
      set: { maxProperties: 2048 },
      rules: [
        {
          rule: `self.all(k, !(k in [${RESERVED_ENV_KEYS.map(celString).join(', ')}]))`,
          message: `must not set variables the platform reserves (${RESERVED_ENV_KEYS.join(', ')})`,
        },
      ],
    },
    {
      path: 'spec.url.qualifier',
      why: 'url.qualifier: $LATEST or an alias, never a version number; the pattern caps it at 128',
      set: { maxLength: 128 },
      rules: [
        { rule: "!self.matches('^[0-9]+$')", message: 'must be $LATEST or an alias, not a version number' },
      ],
    },
    {
      path: 'spec.alb.rules[]',
      why: 'alb rule: needs a host or a pathPrefix',
      rules: [{ rule: 'has(self.host) || has(self.pathPrefix)', message: 'needs a host or a pathPrefix' }],
    },
    {
      path: 'spec.policy.statements[]',
      why: 'resource-based policy statements must name a Principal',
      require: ['Principal'],
    },
    { path: 'spec.async.destinations.onSuccess', why: 'DestinationSchema', rules: destinationRules },
    { path: 'spec.async.destinations.onFailure', why: 'DestinationSchema', rules: destinationRules },
    {
      path: 'spec.async.deadLetter',
      why: 'DestinationSchema, and a dead letter cannot be a function',
      rules: [
        ...destinationRules,
        {
          rule: '!has(self.function)',
          message: 'must be http or nats (the original event with its error attributes)',
        },
      ],
    },
    conditionsAsMap('status.conditions'),
  ],
  printerColumns: [
    { name: 'Runtime', type: 'string', jsonPath: '.spec.runtime' },
    { name: 'Latest Version', type: 'string', jsonPath: '.status.latestVersion' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'URL', type: 'string', jsonPath: '.status.url', priority: 1 },
    age,
  ],
};

export const ALIAS_CRD: CrdDefinition = {
  group: GROUP,
  version: VERSION,
  kind: 'Alias',
  plural: 'aliases',
  singular: 'alias',
  shortNames: ['svalias'],
  categories: CATEGORIES,
  description: 'A name for a function version, optionally sending a share of traffic to one more version.',
  name: AliasSchema.shape.metadata.shape.name,
  spec: AliasSchema.shape.spec,
  status: AliasStatusSchema,
  amendments: [
    {
      path: 'spec',
      why: 'AliasSpecSchema: the additional version differs from functionVersion, and is not beside $LATEST',
      rules: [
        {
          rule: '!has(self.routingConfig) || !(self.functionVersion in self.routingConfig.additionalVersionWeights)',
          message: 'the additional version must differ from functionVersion',
          fieldPath: '.routingConfig.additionalVersionWeights',
        },
        {
          rule: "!has(self.routingConfig) || size(self.routingConfig.additionalVersionWeights) == 0 || self.functionVersion != '$LATEST'",
          message: 'weighted routing needs a published primary version, not $LATEST',
          fieldPath: '.functionVersion',
        },
      ],
    },
    {
      path: 'spec.routingConfig.additionalVersionWeights',
      why: 'at most one additional version (an exact structural equivalent of the refine)',
      set: { maxProperties: 1 },
    },
    {
      path: 'spec.name',
      why: 'ALIAS_NAME uses a lookahead (not RE2): a name of [a-zA-Z0-9-_] that is not a number',
      replacesPattern: true,
      set: { maxLength: 128 },
      rules: [
        {
          rule: "self.matches('^[a-zA-Z0-9_-]{1,128}$') && !self.matches('^[0-9]+$')",
          message: 'must be 1-128 of [a-zA-Z0-9-_] and not a number',
        },
      ],
    },
    conditionsAsMap('status.conditions'),
  ],
  printerColumns: [
    { name: 'Function', type: 'string', jsonPath: '.spec.functionName' },
    { name: 'Version', type: 'string', jsonPath: '.spec.functionVersion' },
    age,
  ],
};

export const EVENT_SOURCE_MAPPING_CRD: CrdDefinition = {
  group: GROUP,
  version: VERSION,
  kind: 'EventSourceMapping',
  plural: 'eventsourcemappings',
  singular: 'eventsourcemapping',
  shortNames: ['esm'],
  categories: CATEGORIES,
  description: 'Reads a queue, stream or schedule and invokes a function with batches of records.',
  name: EventSourceMappingSchema.shape.metadata.shape.name,
  spec: EventSourceMappingSchema.shape.spec,
  status: EventSourceMappingStatusSchema,
  amendments: [
    {
      path: 'spec',
      why: 'EventSourceMappingSpecSchema: AT_TIMESTAMP needs its timestamp; positions only for kafka and nats; SQS batch rules',
      rules: [
        {
          rule: "(has(self.startingPosition) && self.startingPosition == 'AT_TIMESTAMP') == has(self.startingPositionTimestamp)",
          message: 'is required with, and only with, startingPosition AT_TIMESTAMP',
          fieldPath: '.startingPositionTimestamp',
        },
        {
          rule: '!has(self.parallelizationFactor) || has(self.source.kafka)',
          message: 'applies only to kafka sources',
          fieldPath: '.parallelizationFactor',
        },
        {
          rule: '!has(self.source.kafka) || has(self.startingPosition)',
          message: 'is required for kafka sources (TRIM_HORIZON, LATEST or AT_TIMESTAMP)',
          fieldPath: '.startingPosition',
          reason: 'FieldValueRequired',
        },
        {
          rule: '!has(self.startingPosition) || has(self.source.kafka) || has(self.source.nats)',
          message: 'applies only to kafka and nats sources',
          fieldPath: '.startingPosition',
        },
        {
          rule: '!has(self.source.sqs) || !has(self.batchSize) || self.batchSize <= 10 || (has(self.maximumBatchingWindowSeconds) && self.maximumBatchingWindowSeconds >= 1)',
          message: 'must be at least 1 when an SQS batchSize is above 10',
          fieldPath: '.maximumBatchingWindowSeconds',
        },
        {
          rule: "!has(self.source.sqs) || !self.source.sqs.queueUrl.endsWith('.fifo') || !has(self.batchSize) || self.batchSize <= 10",
          message: 'must be at most 10 for a FIFO queue',
          fieldPath: '.batchSize',
        },
        {
          rule: '!has(self.scalingConfig) || has(self.source.sqs)',
          message: 'applies only to sqs sources',
          fieldPath: '.scalingConfig',
        },
      ],
    },
    {
      path: 'spec.source',
      why: 'EventSourceSchema: exactly one kind',
      rules: [{ rule: exactlyOne(SOURCE_KINDS), message: `needs exactly one of ${SOURCE_KINDS.join(', ')}` }],
    },
    {
      path: 'spec.source.rabbitmq',
      why: 'rabbitmq: exactly one of url, secretRef',
      rules: [{ rule: exactlyOne(['url', 'secretRef']), message: 'needs exactly one of url, secretRef' }],
    },
    {
      path: 'spec.source.nats',
      why: 'nats: a consumer belongs to a stream; a URL is given inline or in a Secret, not both',
      rules: [
        { rule: '!has(self.consumer) || has(self.stream)', message: 'needs stream', fieldPath: '.consumer' },
        { rule: '!has(self.url) || !has(self.secretRef)', message: 'takes at most one of url, secretRef' },
      ],
    },
    {
      path: 'spec.source.schedule',
      why: 'parseScheduleExpression: a cron needs ? in exactly one of day-of-month and day-of-week',
      rules: [
        {
          rule: `!self.expression.startsWith('cron(') || self.expression.matches(${celString('^cron\\(\\S+ \\S+ \\? \\S+ [^? ]+ \\S+\\)$')}) || self.expression.matches(${celString('^cron\\(\\S+ \\S+ [^? ]+ \\S+ \\? \\S+\\)$')})`,
          message: 'cron: exactly one of day-of-month and day-of-week must be ?',
          fieldPath: '.expression',
        },
      ],
    },
    {
      path: 'spec.maximumRecordAgeSeconds',
      why: '-1 or 60..604800',
      rules: [{ rule: 'self == -1 || self >= 60', message: 'must be -1 or from 60 to 604800' }],
    },
    { path: 'spec.destinationConfig.onFailure', why: 'DestinationSchema', rules: destinationRules },
    conditionsAsMap('status.conditions'),
  ],
  printerColumns: [
    { name: 'Function', type: 'string', jsonPath: '.spec.functionName' },
    { name: 'Source', type: 'string', jsonPath: '.status.sourceKind' },
    { name: 'Enabled', type: 'boolean', jsonPath: '.spec.enabled' },
    { name: 'State', type: 'string', jsonPath: '.status.state' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Last Result', type: 'string', jsonPath: '.status.lastProcessingResult', priority: 1 },
    age,
  ],
};

export const CRDS: readonly CrdDefinition[] = [FUNCTION_CRD, ALIAS_CRD, EVENT_SOURCE_MAPPING_CRD];

/** The generated files of charts/serval/crds/, by file name (`<group>_<plural>.yaml`, as controller-gen names them). */
export function crdFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const def of CRDS) {
    const header = `# Generated by scripts/generate-crds.ts from the zod schemas in apis/ (npm run crds). Do not edit.\n`;
    const text = stringify(customResourceDefinition(def), { lineWidth: 0, aliasDuplicateObjects: false });
    files.set(`${def.group}_${def.plural}.yaml`, `${header}${text}`);
  }
  return files;
}
