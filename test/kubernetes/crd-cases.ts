// Manifests that zod and the API server must both refuse (naming the same field) or both accept: the table that
// keeps the CEL rules in apis/crd-definitions.ts honest about the refinements they restate.
import type { z } from 'zod';
import { AliasSchema } from '../../apis/alias.ts';
import { EventSourceMappingSchema } from '../../apis/event-source-mapping.ts';
import { FunctionSchema } from '../../apis/function.ts';

type Doc = Record<string, any>;

export const SCHEMAS: Record<string, z.ZodType> = {
  Function: FunctionSchema,
  Alias: AliasSchema,
  EventSourceMapping: EventSourceMappingSchema,
};

const fn = (spec: Doc, name = 'under-test'): Doc => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'Function',
  metadata: { name },
  spec: {
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    code: { inline: { 'index.mjs': 'export const handler = async (e) => e;' } },
    ...spec,
  },
});
const alias = (spec: Doc): Doc => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'Alias',
  metadata: { name: 'under-test' },
  spec: { functionName: 'echo', functionVersion: '1', ...spec },
});
const esm = (spec: Doc, name = 'under-test'): Doc => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'EventSourceMapping',
  metadata: { name },
  spec: { functionName: 'echo', source: { sqs: { queueUrl: 'https://sqs.local/000000000000/q' } }, ...spec },
});
const http = { http: { url: 'https://hooks.example.com/done' } };

export interface InvalidCase {
  name: string;
  doc: Doc;
  /** The field as the API server names it (`spec.alb.rules[0]`). */
  field: string;
  /** A fragment of the API server's message. */
  message: string;
}

/** An image function: no runtime, no handler (Lambda's PackageType Image). */
const imageFn = (spec: Doc = {}, name = 'under-test'): Doc => {
  const doc = fn({ code: { image: { uri: 'localhost/thumbs:1' } }, ...spec }, name);
  for (const key of ['runtime', 'handler'] as const) if (!(key in spec)) delete doc.spec[key];
  return doc;
};

export const INVALID: InvalidCase[] = [
  // Function: an image function has no runtime, handler or layers; ImageConfig is an image function's.
  {
    name: 'a runtime on an image function',
    doc: imageFn({ runtime: 'nodejs24.x' }),
    field: 'spec.runtime',
    message: "Please don't provide Handler or Runtime or Layer",
  },
  {
    name: 'a handler on an image function',
    doc: imageFn({ handler: 'app.handler' }),
    field: 'spec.handler',
    message: "Please don't provide Handler or Runtime or Layer",
  },
  {
    name: 'ImageConfig on a zip function',
    doc: fn({ imageConfig: { command: ['app.handler'] } }),
    field: 'spec.imageConfig',
    message: 'only supported for PackageType Image',
  },
  {
    name: 'no runtime on a zip function',
    doc: (() => {
      const doc = fn({});
      delete doc.spec.runtime;
      return doc;
    })(),
    field: 'spec.runtime',
    message: 'unless code.image',
  },
  {
    name: 'a relative ImageConfig working directory',
    doc: imageFn({ imageConfig: { workingDirectory: 'var/task' } }),
    field: 'spec.imageConfig.workingDirectory',
    message: 'should match',
  },
  // Function: tenant isolation refuses the features that cannot pass a tenant id.
  {
    name: 'function URL on a PER_TENANT function',
    doc: fn({ tenancy: { mode: 'PER_TENANT' }, url: { authType: 'NONE' } }),
    field: 'spec.url',
    message: 'function URLs are not supported',
  },
  {
    name: 'load balancer rules on a PER_TENANT function',
    doc: fn({ tenancy: { mode: 'PER_TENANT' }, alb: { rules: [{ pathPrefix: '/t', priority: 1 }] } }),
    field: 'spec.alb',
    message: 'load balancer targets are not supported',
  },
  {
    name: 'unknown tenancy mode',
    doc: fn({ tenancy: { mode: 'SHARED' } }),
    field: 'spec.tenancy.mode',
    message: 'Unsupported value: "SHARED"',
  },
  // Function: plain OpenAPI bounds and enums.
  {
    name: 'memory below 128 MB',
    doc: fn({ memoryMB: 64 }),
    field: 'spec.memoryMB',
    message: 'greater than or equal to 128',
  },
  {
    name: 'timeout above 900 s',
    doc: fn({ timeoutSeconds: 901 }),
    field: 'spec.timeoutSeconds',
    message: 'less than or equal to 900',
  },
  {
    name: 'unknown runtime',
    doc: fn({ runtime: 'java21' }),
    field: 'spec.runtime',
    message: 'Unsupported value: "java21"',
  },
  {
    name: 'handler with whitespace',
    doc: fn({ handler: 'index handler' }),
    field: 'spec.handler',
    message: 'should match',
  },
  {
    name: 'name that is not a DNS label',
    doc: fn({}, 'echo.v2'),
    field: 'metadata.name',
    message: 'should match',
  },
  {
    name: 'unknown spec field',
    doc: fn({ memorySize: 256 }),
    field: 'spec.memorySize',
    message: 'unknown field',
  },
  {
    name: 'too many environmentFrom entries',
    doc: fn({ environmentFrom: Array.from({ length: 11 }, (_, i) => ({ secretRef: { name: `s${i}` } })) }),
    field: 'spec.environmentFrom',
    message: 'must have at most 10 items',
  },
  {
    name: 'code url with a bad sha256',
    doc: fn({ code: { url: { href: 'https://code.example.com/f.mjs', sha256: 'xyz' } } }),
    field: 'spec.code.url.sha256',
    message: 'should match',
  },
  {
    name: 'code url over ftp',
    doc: fn({ code: { url: { href: 'ftp://code.example.com/f.mjs', sha256: 'a'.repeat(64) } } }),
    field: 'spec.code.url.href',
    message: 'should match',
  },
  {
    name: 'async retries above 2',
    doc: fn({ async: { maximumRetryAttempts: 3 } }),
    field: 'spec.async.maximumRetryAttempts',
    message: 'less than or equal to 2',
  },
  {
    name: 'async event age below 60 s',
    doc: fn({ async: { maximumEventAgeSeconds: 59 } }),
    field: 'spec.async.maximumEventAgeSeconds',
    message: 'greater than or equal to 60',
  },
  // Function: refinements restated as CEL.
  {
    name: 'managed runtime without handler',
    doc: fn({ handler: undefined }),
    field: 'spec.handler',
    message: 'handler is required for managed runtimes',
  },
  {
    name: 'two code sources',
    doc: fn({ code: { path: './echo', inline: { 'a.mjs': '' } } }),
    field: 'spec.code',
    message: 'exactly one of path, inline, configMap, url',
  },
  {
    name: 'no code source',
    doc: fn({ code: {} }),
    field: 'spec.code',
    message: 'exactly one of path, inline, configMap, url',
  },
  {
    name: 'inline file outside the code directory',
    doc: fn({ code: { inline: { '../escape.mjs': '' } } }),
    field: 'spec.code.inline',
    message: 'relative path inside the code directory',
  },
  {
    name: 'inline file with an absolute path',
    doc: fn({ code: { inline: { '/etc/passwd': '' } } }),
    field: 'spec.code.inline',
    message: 'relative path inside the code directory',
  },
  {
    name: 'code url file outside the code directory',
    doc: fn({
      code: {
        url: { href: 'https://code.example.com/f.mjs', sha256: 'a'.repeat(64), file: 'lib/../../f.mjs' },
      },
    }),
    field: 'spec.code.url.file',
    message: 'relative path inside the code directory',
  },
  {
    name: 'reserved environment variable',
    doc: fn({ environment: { AWS_REGION: 'eu-west-1' } }),
    field: 'spec.environment',
    message: 'must not set variables the platform reserves',
  },
  {
    name: 'environment key that is not a name',
    doc: fn({ environment: { '1ST': 'x' } }),
    field: 'spec.environment',
    message: 'keys must match',
  },
  {
    name: 'function URL qualified by a version number',
    doc: fn({ url: { qualifier: '3' } }),
    field: 'spec.url.qualifier',
    message: 'not a version number',
  },
  {
    name: 'function URL with an unknown invoke mode',
    doc: fn({ url: { invokeMode: 'STREAMING' } }),
    field: 'spec.url.invokeMode',
    message: 'Unsupported value: "STREAMING"',
  },
  {
    name: 'ALB rule with neither host nor path',
    doc: fn({ alb: { rules: [{ priority: 1 }] } }),
    field: 'spec.alb.rules[0]',
    message: 'needs a host or a pathPrefix',
  },
  {
    name: 'policy statement without Principal',
    doc: fn({ policy: { statements: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction' }] } }),
    field: 'spec.policy.statements[0].Principal',
    message: 'Required value',
  },
  {
    name: 'destination with two targets',
    doc: fn({ async: { destinations: { onSuccess: { function: 'audit', nats: { subject: 'done' } } } } }),
    field: 'spec.async.destinations.onSuccess',
    message: 'needs exactly one of function, http, nats',
  },
  {
    name: 'destination with no target',
    doc: fn({ async: { destinations: { onFailure: {} } } }),
    field: 'spec.async.destinations.onFailure',
    message: 'needs exactly one of function, http, nats',
  },
  {
    name: 'function as dead letter target',
    doc: fn({ async: { deadLetter: { function: 'audit' } } }),
    field: 'spec.async.deadLetter',
    message: 'must be http or nats',
  },
  // Alias.
  {
    name: 'alias pointing to an alias',
    doc: alias({ functionVersion: 'live' }),
    field: 'spec.functionVersion',
    message: 'should match',
  },
  {
    name: 'alias with two additional versions',
    doc: alias({ functionVersion: '3', routingConfig: { additionalVersionWeights: { '1': 0.1, '2': 0.1 } } }),
    field: 'spec.routingConfig.additionalVersionWeights',
    message: 'at most 1',
  },
  {
    name: 'alias weight above 1',
    doc: alias({ functionVersion: '3', routingConfig: { additionalVersionWeights: { '2': 1.5 } } }),
    field: 'spec.routingConfig.additionalVersionWeights.2',
    message: 'less than or equal to 1',
  },
  {
    name: 'alias with an additional version that is not a number',
    doc: alias({ functionVersion: '3', routingConfig: { additionalVersionWeights: { live: 0.5 } } }),
    field: 'spec.routingConfig.additionalVersionWeights',
    message: 'keys must match',
  },
  {
    name: 'alias whose additional version is its own',
    doc: alias({ functionVersion: '2', routingConfig: { additionalVersionWeights: { '2': 0.5 } } }),
    field: 'spec.routingConfig.additionalVersionWeights',
    message: 'must differ from functionVersion',
  },
  {
    name: 'alias name that reads as a version',
    doc: alias({ name: '42', functionVersion: '3' }),
    field: 'spec.name',
    message: 'not a number',
  },
  {
    name: 'weighted alias on $LATEST',
    doc: alias({ functionVersion: '$LATEST', routingConfig: { additionalVersionWeights: { '2': 0.5 } } }),
    field: 'spec.functionVersion',
    message: 'needs a published primary version',
  },
  {
    name: 'deployment with an unknown strategy',
    doc: alias({
      functionVersion: '3',
      deployment: { strategy: 'Linear10PercentEvery1Minutes', targetVersion: '4' },
    }),
    field: 'spec.deployment.strategy',
    message: 'should match',
  },
  {
    name: 'deployment error rate above 1',
    doc: alias({
      functionVersion: '3',
      deployment: { strategy: 'AllAtOnce', targetVersion: '4', rollback: { errorRate: 2 } },
    }),
    field: 'spec.deployment.rollback.errorRate',
    message: 'less than or equal to 1',
  },
  // EventSourceMapping.
  {
    name: 'mapping with two sources',
    doc: esm({
      source: { sqs: { queueUrl: 'https://sqs.local/q' }, schedule: { expression: 'rate(1 minute)' } },
    }),
    field: 'spec.source',
    message: 'needs exactly one of kafka, rabbitmq, sqs, nats, schedule',
  },
  {
    name: 'mapping with no source',
    doc: esm({ source: {} }),
    field: 'spec.source',
    message: 'needs exactly one of',
  },
  {
    name: 'batch size 0',
    doc: esm({ batchSize: 0 }),
    field: 'spec.batchSize',
    message: 'greater than or equal to 1',
  },
  {
    name: 'an SQS batch above 10 without a window',
    doc: esm({ batchSize: 100 }),
    field: 'spec.maximumBatchingWindowSeconds',
    message: 'must be at least 1 when an SQS batchSize is above 10',
  },
  {
    name: 'a FIFO batch above 10',
    doc: esm({
      batchSize: 20,
      maximumBatchingWindowSeconds: 1,
      source: { sqs: { queueUrl: 'https://sqs.local/000000000000/q.fifo' } },
    }),
    field: 'spec.batchSize',
    message: 'must be at most 10 for a FIFO queue',
  },
  {
    name: 'scalingConfig on a non-SQS source',
    doc: esm({
      scalingConfig: { maximumConcurrency: 5 },
      source: { rabbitmq: { secretRef: { name: 'rmq' }, queue: 'jobs' } },
    }),
    field: 'spec.scalingConfig',
    message: 'applies only to sqs sources',
  },
  {
    name: 'batching window above 300 s',
    doc: esm({ maximumBatchingWindowSeconds: 301 }),
    field: 'spec.maximumBatchingWindowSeconds',
    message: 'less than or equal to 300',
  },
  {
    name: 'retry attempts below -1',
    doc: esm({ maximumRetryAttempts: -2 }),
    field: 'spec.maximumRetryAttempts',
    message: 'greater than or equal to -1',
  },
  {
    name: 'record age between -1 and 60',
    doc: esm({ maximumRecordAgeSeconds: 30 }),
    field: 'spec.maximumRecordAgeSeconds',
    message: 'must be -1 or from 60 to 604800',
  },
  {
    name: 'schedule that is neither rate nor cron',
    doc: esm({ source: { schedule: { expression: 'every 5 minutes' } } }),
    field: 'spec.source.schedule.expression',
    message: 'should match',
  },
  {
    name: 'cron with both day fields set',
    doc: esm({ source: { schedule: { expression: 'cron(0 10 * * MON *)' } } }),
    field: 'spec.source.schedule.expression',
    message: 'exactly one of day-of-month and day-of-week must be ?',
  },
  {
    name: 'AT_TIMESTAMP without its timestamp',
    doc: esm({
      source: { kafka: { bootstrapServers: ['kafka:9092'], topic: 'orders' } },
      startingPosition: 'AT_TIMESTAMP',
    }),
    field: 'spec.startingPositionTimestamp',
    message: 'required with, and only with',
  },
  {
    name: 'starting position for SQS',
    doc: esm({ startingPosition: 'LATEST' }),
    field: 'spec.startingPosition',
    message: 'applies only to kafka and nats',
  },
  {
    name: 'RabbitMQ with url and secretRef',
    doc: esm({ source: { rabbitmq: { url: 'amqp://rmq:5672', secretRef: { name: 'rmq' }, queue: 'jobs' } } }),
    field: 'spec.source.rabbitmq',
    message: 'needs exactly one of url, secretRef',
  },
  {
    name: 'NATS with url and secretRef',
    doc: esm({
      source: { nats: { url: 'nats://n:4222', secretRef: { name: 'nats' }, subject: 'orders' } },
    }),
    field: 'spec.source.nats',
    message: 'takes at most one of url, secretRef',
  },
  {
    name: 'SQS credentials Secret that is not a Secret name',
    doc: esm({
      source: {
        sqs: { queueUrl: 'https://sqs.local/000000000000/q', credentialsSecretRef: { name: 'Keys!' } },
      },
    }),
    field: 'spec.source.sqs.credentialsSecretRef.name',
    message: 'should match',
  },
  {
    name: 'SQS credentials Secret with a key',
    doc: esm({
      source: {
        sqs: {
          queueUrl: 'https://sqs.local/000000000000/q',
          credentialsSecretRef: { name: 'k', key: 'url' },
        },
      },
    }),
    field: 'spec.source.sqs.credentialsSecretRef',
    message: 'key',
  },
  {
    name: 'NATS consumer without a stream',
    doc: esm({ source: { nats: { subject: 'orders', consumer: 'fn' } } }),
    field: 'spec.source.nats.consumer',
    message: 'needs stream',
  },
  {
    name: 'Kafka server without a port',
    doc: esm({
      source: { kafka: { bootstrapServers: ['kafka'], topic: 'orders' } },
      startingPosition: 'LATEST',
    }),
    field: 'spec.source.kafka.bootstrapServers[0]',
    message: 'should match',
  },
  {
    name: 'Kafka mapping without a starting position',
    doc: esm({ source: { kafka: { bootstrapServers: ['kafka:9092'], topic: 'orders' } } }),
    field: 'spec.startingPosition',
    message: 'is required for kafka sources',
  },
  {
    name: 'parallelization on a queue',
    doc: esm({ parallelizationFactor: 2 }),
    field: 'spec.parallelizationFactor',
    message: 'applies only to kafka sources',
  },
  {
    name: 'parallelization above 10',
    doc: esm({
      source: { kafka: { bootstrapServers: ['kafka:9092'], topic: 'orders' } },
      startingPosition: 'LATEST',
      parallelizationFactor: 11,
    }),
    field: 'spec.parallelizationFactor',
    message: 'less than or equal to 10',
  },
  {
    name: 'six filters',
    doc: esm({ filterCriteria: { filters: Array.from({ length: 6 }, () => ({ pattern: '{}' })) } }),
    field: 'spec.filterCriteria.filters',
    message: 'must have at most 5 items',
  },
  {
    name: 'maximum concurrency 1',
    doc: esm({ scalingConfig: { maximumConcurrency: 1 } }),
    field: 'spec.scalingConfig.maximumConcurrency',
    message: 'greater than or equal to 2',
  },
  {
    name: 'unknown function response type',
    doc: esm({ functionResponseTypes: ['ReportEverything'] }),
    field: 'spec.functionResponseTypes[0]',
    message: 'Unsupported value',
  },
  {
    name: 'failure destination with no target',
    doc: esm({ destinationConfig: { onFailure: {} } }),
    field: 'spec.destinationConfig.onFailure',
    message: 'needs exactly one of function, http, nats',
  },
];

/** Manifests both must accept, beside examples/: every source kind, aliases, the optional Function features. */
export const VALID: Doc[] = [
  imageFn({}, 'image-plain'),
  imageFn(
    {
      imageConfig: {
        entryPoint: ['/lambda-entrypoint.sh'],
        command: ['app.handler'],
        workingDirectory: '/var/task',
      },
    },
    'image-configured',
  ),
  alias({ name: 'live', functionVersion: '3' }),
  fn(
    {
      memoryMB: 1769,
      timeoutSeconds: 900,
      environment: { LOG_LEVEL: 'debug', AWS_PROFILE_NAME_IS_FINE: 'yes' },
      environmentFrom: [{ secretRef: { name: 'thumb-secrets' } }],
      serviceAccountName: 'thumb-role',
      reservedConcurrency: 0,
      url: {
        authType: 'JWT',
        qualifier: 'live',
        invokeMode: 'RESPONSE_STREAM',
        cors: { allowOrigins: ['*'], allowMethods: ['GET', '*'] },
      },
      alb: {
        rules: [
          { host: '*.example.com', priority: 10 },
          { pathPrefix: '/thumbs', priority: 20 },
        ],
      },
      async: {
        maximumRetryAttempts: 0,
        destinations: { onSuccess: { function: 'audit:live' }, onFailure: http },
        deadLetter: { nats: { subject: 'dead.thumbs' } },
      },
      policy: {
        statements: [
          { Effect: 'Allow', Principal: '*', Action: 'lambda:InvokeFunctionUrl' },
          {
            Sid: 'team',
            Effect: 'Allow',
            Principal: { Serval: ['media', 'serval:dex:alice'] },
            Action: ['lambda:InvokeFunction'],
            Condition: {
              IpAddress: { 'serval:SourceIp': ['10.0.0.0/8'] },
              Bool: { 'serval:SecureTransport': true },
            },
          },
        ],
      },
      logging: { format: 'JSON', applicationLogLevel: 'DEBUG' },
    },
    'thumbnail',
  ),
  fn(
    { runtime: 'provided.al2023', handler: undefined, code: { configMap: { name: 'bootstrap-code' } } },
    'custom',
  ),
  fn(
    { code: { url: { href: 'https://code.example.com/f.mjs', sha256: 'a'.repeat(64), file: 'lib/f.mjs' } } },
    'fetched',
  ),
  alias({ functionVersion: '3', routingConfig: { additionalVersionWeights: { '2': 0.25 } } }),
  { ...alias({ functionVersion: '$LATEST' }), metadata: { name: 'latest' } },
  {
    ...alias({
      functionVersion: '3',
      deployment: {
        strategy: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
        targetVersion: '4',
        preTrafficHook: 'check-shop',
        postTrafficHook: 'check-shop',
        rollback: { errorRate: 0.05, throttleRate: 0.1, p99DurationMs: 800, promql: ['up == 0'] },
      },
    }),
    metadata: { name: 'deploying' },
  },
  esm(
    {
      source: {
        kafka: {
          bootstrapServers: ['kafka-0.kafka:9092', 'kafka-1.kafka:9092'],
          topic: 'orders',
          consumerGroup: 'orders-fn',
        },
      },
      startingPosition: 'TRIM_HORIZON',
      parallelizationFactor: 10,
      batchSize: 500,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 3,
      maximumRecordAgeSeconds: 3600,
      functionResponseTypes: ['ReportBatchItemFailures'],
      filterCriteria: { filters: [{ pattern: '{"value":{"type":["order"]}}' }] },
      destinationConfig: { onFailure: { nats: { subject: 'orders.failed' } } },
    },
    'orders-kafka',
  ),
  esm({ source: { rabbitmq: { secretRef: { name: 'rmq' }, queue: 'jobs' } } }, 'jobs-rmq'),
  esm(
    {
      source: {
        sqs: { queueUrl: 'https://sqs.local/000000000000/q', credentialsSecretRef: { name: 'sqs-keys' } },
      },
    },
    'keyed-sqs',
  ),
  esm({ source: { nats: { secretRef: { name: 'nats-login' }, subject: 'orders' } } }, 'login-nats'),
  esm({ scalingConfig: { maximumConcurrency: 5 }, maximumBatchingWindowSeconds: 5 }, 'queue-sqs'),
  esm(
    {
      source: { nats: { subject: 'orders.>', stream: 'ORDERS', consumer: 'orders-fn' } },
      startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: '2025-01-01T00:00:00Z',
    },
    'orders-nats',
  ),
  esm(
    { qualifier: 'live', source: { schedule: { expression: 'cron(0 12 * * ? *)' } }, enabled: false },
    'noon',
  ),
  esm({ source: { schedule: { expression: 'rate(5 minutes)' } }, maximumRecordAgeSeconds: -1 }, 'every-5m'),
];

/** `spec.alb.rules[0]` → `spec.alb.rules.0`, the way a zod issue path reads. */
export function dotted(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1');
}

/** zod's verdict on a manifest: undefined when it accepts, otherwise its issue paths. */
export function zodIssues(doc: Doc): string[] | undefined {
  const schema = SCHEMAS[doc.kind];
  if (!schema) throw new Error(`no schema for kind ${doc.kind}`);
  const result = schema.safeParse(doc);
  return result.success ? undefined : result.error.issues.map((i) => i.path.join('.'));
}
