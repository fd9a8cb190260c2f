// The gateway's configuration, parsed once at start-up from flags and environment and passed down.
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { AuthConfigError, type AuthSettings, parseAuthSettings } from './auth/auth-config.ts';

export interface GatewayConfig {
  host: string;
  port: number;
  /** Listener for environment links; loopback in local mode. */
  internalHost: string;
  internalPort: number;
  dataDir: string;
  /**
   * Serval's cache (SERVAL_CACHE, else ~/.cache/serval): built shims (ADR-56), test servers, compiled
   * binaries. None when neither is set.
   */
  cacheDir: string | undefined;
  region: string;
  /** Namespace a bare function name resolves in (the "account" of a call without an ARN). */
  defaultNamespace: string;
  /** Idle environments are reaped after this long. */
  idleTimeoutSeconds: number;
  /** How long an invocation may wait for a newly started environment. */
  environmentStartTimeoutSeconds: number;
  maxEnvironmentsPerFunction: number;
  /** Environments a function starts for waiting calls before it first waits for a busy one (ADR-36). */
  eagerEnvironmentsPerFunction: number;
  /** The longest a call waits for a busy environment to come free before one is started for it; 0 never. */
  warmWaitMs: number;
  /** Concurrent executions per namespace (Lambda's per-account limit); 100 of it always stays unreserved. */
  accountConcurrencyLimit: number;
  /** Bytes of uploaded deployment packages the control-plane API keeps (Lambda's 75 GB code storage). */
  codeStorageLimitBytes: number;
  /**
   * How many queued `Event` invocations run at once (they also count against concurrency limits); 0 makes an
   * ingest-only gateway that accepts events for other replicas to run.
   */
  asyncConcurrency: number;
  /**
   * Function URLs answer on `<url-id>.<functionUrlDomain>` (routed by Host); a path form under
   * `/lambda-url/<url-id>/` serves setups without wildcard DNS.
   */
  functionUrlDomain: string;
  /**
   * Local mode, a `python3.X` function when this machine lacks Python 3.X: `warn` at load time and run it on
   * `python3`, or `refuse` to load it.
   */
  pythonMismatch: 'warn' | 'refuse';
  /** Local provider: namespaces and a memory cgroup per environment where the host allows them (docs/security.md). */
  localIsolation: 'auto' | 'off';
  /**
   * Local provider: generic pre-warmed environments kept for each runtime profile (runtime and memory) that
   * had a cold start within the idle timeout; a cold start specialises one for its function (ADR-50). 0: none.
   */
  localPrewarm: number;
  /** Host directories every sandboxed local environment sees, writable: a shared mount, so no isolation there. */
  localSharedDirs: string[];
  /**
   * Local provider: a nodejs* zip function's environment is one process, the agent with the Node runtime
   * inside it, instead of an agent and a runtime behind the Runtime API (ADR-52; the default since ADR-54,
   * SERVAL_NODE_IN_PROCESS=off for agent mode).
   */
  nodeInProcess: boolean;
  /** Where accepted `Event` invocations are kept: SQLite in dataDir (one gateway) or NATS JetStream (several). */
  queueBackend: 'sqlite' | 'nats';
  /** NATS server(s) for the JetStream queue and for NATS destinations, comma-separated. */
  natsUrl: string | undefined;
  /** JetStream redelivers an event whose gateway stopped answering for it after this long. */
  natsAckWaitSeconds: number;
  /**
   * Multiplies every async clock (retry delays, backoff, event age) so tests can run Lambda's minutes in
   * milliseconds. 1 in production.
   */
  asyncTimeScale: number;
  /** Multiplies every deployment interval (strategy steps, health checks), as asyncTimeScale does. 1 in production. */
  deploymentTimeScale: number;
  /** The Prometheus HTTP API that deployments' `rollback.promql` conditions are asked of. */
  prometheusUrl: string | undefined;
  /** Prometheus metrics on their own listener (`off` removes every metric from the invocation path). */
  metrics: 'on' | 'off';
  metricsHost: string;
  /** 9464 by default; 0 (any free port) when the front door also asks for any free port. */
  metricsPort: number;
  /** OpenTelemetry traces: `otlp` exports to `otlpEndpoint` (OTLP/HTTP); off by default. */
  tracing: 'off' | 'otlp';
  otlpEndpoint: string;
  /** Share of new traces recorded; a caller's sampling decision is always followed. */
  tracingSampleRatio: number;
  /** The gateway's own log lines: JSON objects (production) or text (a terminal). */
  logFormat: 'json' | 'text';
  /**
   * Deadlines for receiving a request on every listener (docs/hardening.md): headers, the whole request,
   * and the longest pause in a body. None of them bounds how long the response may take.
   */
  headersTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  bodyIdleTimeoutSeconds: number;
  /** Who may invoke (docs/auth.md): token issuers and identity policies, or `off` in the embedded default. */
  auth: AuthSettings;
  /**
   * Access keys for SigV4 that the operator provides (a mounted Secret in a cluster), besides those local
   * mode creates in dataDir (docs/auth.md).
   */
  accessKeysFile: string | undefined;
  /** Local mode's SQS credentials for event source mappings (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). */
  /** SQS keys for mappings without a `credentialsSecretRef` (AWS_ACCESS_KEY_ID, …, AWS_SESSION_TOKEN). */
  eventSourceCredentials: {
    accessKeyId?: string | undefined;
    secretAccessKey?: string | undefined;
    sessionToken?: string | undefined;
  };
  /** Local mode's values for mappings' `secretRef`s: the SERVAL_SECRET_<NAME>_<KEY> variables. */
  eventSourceSecrets: Record<string, string>;
}

export type ConfigOverrides = Partial<GatewayConfig>;

export class ConfigError extends Error {}

function authSettings(env: NodeJS.ProcessEnv): AuthSettings {
  try {
    return parseAuthSettings(env);
  } catch (err) {
    throw err instanceof AuthConfigError ? new ConfigError(err.message) : err;
  }
}

export function parseGatewayConfig(env: NodeJS.ProcessEnv, overrides: ConfigOverrides = {}): GatewayConfig {
  const config: GatewayConfig = {
    host: env.SERVAL_HOST ?? '127.0.0.1',
    port: int(env, 'SERVAL_PORT', 8080, 0, 65535),
    internalHost: env.SERVAL_INTERNAL_HOST ?? '127.0.0.1',
    internalPort: int(env, 'SERVAL_INTERNAL_PORT', 0, 0, 65535),
    dataDir: resolve(env.SERVAL_DATA_DIR ?? '.serval'),
    cacheDir: env.SERVAL_CACHE
      ? resolve(env.SERVAL_CACHE)
      : env.HOME
        ? join(env.HOME, '.cache', 'serval')
        : undefined,
    region: env.SERVAL_REGION ?? 'local',
    defaultNamespace: env.SERVAL_DEFAULT_NAMESPACE ?? 'default',
    idleTimeoutSeconds: int(env, 'SERVAL_IDLE_TIMEOUT_SECONDS', 600, 1, 86_400),
    environmentStartTimeoutSeconds: int(env, 'SERVAL_ENVIRONMENT_START_TIMEOUT_SECONDS', 30, 1, 900),
    maxEnvironmentsPerFunction: int(env, 'SERVAL_MAX_ENVIRONMENTS_PER_FUNCTION', 1000, 1, 100_000),
    // Four per core keep the cores busy through each call's hops between gateway, agent and runtime.
    eagerEnvironmentsPerFunction: int(
      env,
      'SERVAL_EAGER_ENVIRONMENTS_PER_FUNCTION',
      4 * availableParallelism(),
      1,
      100_000,
    ),
    warmWaitMs: int(env, 'SERVAL_WARM_WAIT_MS', 1000, 0, 10_000),
    accountConcurrencyLimit: int(env, 'SERVAL_ACCOUNT_CONCURRENCY_LIMIT', 1000, 100, 1_000_000),
    codeStorageLimitBytes: int(env, 'SERVAL_CODE_STORAGE_LIMIT_BYTES', 75 * 1024 ** 3, 1, 2 ** 50),
    asyncConcurrency: int(env, 'SERVAL_ASYNC_CONCURRENCY', 16, 0, 10_000),
    functionUrlDomain:
      env.SERVAL_FUNCTION_URL_DOMAIN ?? `lambda-url.${env.SERVAL_REGION ?? 'local'}.localhost`,
    pythonMismatch: oneOf(env, 'SERVAL_PYTHON_MISMATCH', ['warn', 'refuse'] as const, 'warn'),
    localIsolation: oneOf(env, 'SERVAL_LOCAL_ISOLATION', ['auto', 'off'] as const, 'auto'),
    localPrewarm: int(env, 'SERVAL_LOCAL_PREWARM', 1, 0, 64),
    localSharedDirs: (env.SERVAL_LOCAL_SHARED_DIRS ?? '')
      .split(':')
      .filter(Boolean)
      .map((d) => resolve(d)),
    nodeInProcess: oneOf(env, 'SERVAL_NODE_IN_PROCESS', ['on', 'off'] as const, 'on') === 'on',
    queueBackend: oneOf(env, 'SERVAL_QUEUE', ['sqlite', 'nats'] as const, 'sqlite'),
    natsUrl: env.SERVAL_NATS_URL || undefined,
    natsAckWaitSeconds: int(env, 'SERVAL_NATS_ACK_WAIT_SECONDS', 30, 1, 3600),
    asyncTimeScale: fraction(env, 'SERVAL_ASYNC_TIME_SCALE', 1),
    deploymentTimeScale: fraction(env, 'SERVAL_DEPLOYMENT_TIME_SCALE', 1),
    prometheusUrl: env.SERVAL_PROMETHEUS_URL || undefined,
    metrics: oneOf(env, 'SERVAL_METRICS', ['on', 'off'] as const, 'on'),
    metricsHost: env.SERVAL_METRICS_HOST ?? env.SERVAL_HOST ?? '127.0.0.1',
    metricsPort: int(env, 'SERVAL_METRICS_PORT', env.SERVAL_PORT === '0' ? 0 : 9464, 0, 65535),
    tracing: oneOf(env, 'SERVAL_TRACING', ['off', 'otlp'] as const, 'off'),
    otlpEndpoint: otlpTracesEndpoint(env),
    tracingSampleRatio: fraction(env, 'SERVAL_TRACING_SAMPLE_RATIO', 1),
    logFormat: oneOf(env, 'SERVAL_LOG_FORMAT', ['json', 'text'] as const, 'json'),
    headersTimeoutSeconds: int(env, 'SERVAL_HEADERS_TIMEOUT_SECONDS', 10, 1, 300),
    requestTimeoutSeconds: int(env, 'SERVAL_REQUEST_TIMEOUT_SECONDS', 30, 1, 3600),
    bodyIdleTimeoutSeconds: int(env, 'SERVAL_BODY_IDLE_TIMEOUT_SECONDS', 10, 1, 300),
    auth: authSettings(env),
    accessKeysFile: env.SERVAL_ACCESS_KEYS_FILE ? resolve(env.SERVAL_ACCESS_KEYS_FILE) : undefined,
    eventSourceCredentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID || undefined,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY || undefined,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
    },
    eventSourceSecrets: Object.fromEntries(
      Object.entries(env).filter(
        (e): e is [string, string] => e[0].startsWith('SERVAL_SECRET_') && e[1] !== undefined,
      ),
    ),
    ...overrides,
  };
  if (!/^[a-z0-9-]+$/.test(config.region))
    throw new ConfigError(`region must match [a-z0-9-]+: ${config.region}`);
  if (config.headersTimeoutSeconds > config.requestTimeoutSeconds)
    throw new ConfigError('SERVAL_HEADERS_TIMEOUT_SECONDS must not exceed SERVAL_REQUEST_TIMEOUT_SECONDS');
  if (config.queueBackend === 'nats' && !config.natsUrl)
    throw new ConfigError('SERVAL_QUEUE=nats needs SERVAL_NATS_URL (e.g. nats://127.0.0.1:4222)');
  return config;
}

/** Serval's own setting, else the standard OpenTelemetry variables, else a collector on this machine. */
function otlpTracesEndpoint(env: NodeJS.ProcessEnv): string {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/$/, '');
  return (
    env.SERVAL_OTLP_ENDPOINT ||
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ||
    (base ? `${base}/v1/traces` : 'http://127.0.0.1:4318/v1/traces')
  );
}

function fraction(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > 1) {
    throw new ConfigError(`${key} must be a number in (0, 1], got "${raw}"`);
  }
  return value;
}

function int(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${key} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, key: string, allowed: readonly T[], fallback: T): T {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${key} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}
