// The gateway's configuration, parsed once at start-up from flags and environment and passed down.
import { resolve } from 'node:path';

export interface GatewayConfig {
  host: string;
  port: number;
  /** Listener for environment links; loopback in local mode. */
  internalHost: string;
  internalPort: number;
  dataDir: string;
  region: string;
  /** Namespace a bare function name resolves in (the "account" of a call without an ARN). */
  defaultNamespace: string;
  /** Idle environments are reaped after this long. */
  idleTimeoutSeconds: number;
  /** How long an invocation may wait for a newly started environment. */
  environmentStartTimeoutSeconds: number;
  maxEnvironmentsPerFunction: number;
  /** Concurrent executions per namespace (Lambda's per-account limit); 100 of it always stays unreserved. */
  accountConcurrencyLimit: number;
  /** How many queued `Event` invocations run at once (they also count against concurrency limits). */
  asyncConcurrency: number;
  /**
   * Function URLs answer on `<url-id>.<functionUrlDomain>` (routed by Host); a path form under
   * `/lambda-url/<url-id>/` serves setups without wildcard DNS.
   */
  functionUrlDomain: string;
  /** Local provider: a private /tmp per environment through a mount namespace, where the OS allows it. */
  isolateTmp: 'auto' | 'off';
}

export type ConfigOverrides = Partial<GatewayConfig>;

export class ConfigError extends Error {}

export function parseGatewayConfig(env: NodeJS.ProcessEnv, overrides: ConfigOverrides = {}): GatewayConfig {
  const config: GatewayConfig = {
    host: env.SERVAL_HOST ?? '127.0.0.1',
    port: int(env, 'SERVAL_PORT', 8080, 0, 65535),
    internalHost: env.SERVAL_INTERNAL_HOST ?? '127.0.0.1',
    internalPort: int(env, 'SERVAL_INTERNAL_PORT', 0, 0, 65535),
    dataDir: resolve(env.SERVAL_DATA_DIR ?? '.serval'),
    region: env.SERVAL_REGION ?? 'local',
    defaultNamespace: env.SERVAL_DEFAULT_NAMESPACE ?? 'default',
    idleTimeoutSeconds: int(env, 'SERVAL_IDLE_TIMEOUT_SECONDS', 600, 1, 86_400),
    environmentStartTimeoutSeconds: int(env, 'SERVAL_ENVIRONMENT_START_TIMEOUT_SECONDS', 30, 1, 900),
    maxEnvironmentsPerFunction: int(env, 'SERVAL_MAX_ENVIRONMENTS_PER_FUNCTION', 1000, 1, 100_000),
    accountConcurrencyLimit: int(env, 'SERVAL_ACCOUNT_CONCURRENCY_LIMIT', 1000, 100, 1_000_000),
    asyncConcurrency: int(env, 'SERVAL_ASYNC_CONCURRENCY', 16, 1, 10_000),
    functionUrlDomain:
      env.SERVAL_FUNCTION_URL_DOMAIN ?? `lambda-url.${env.SERVAL_REGION ?? 'local'}.localhost`,
    isolateTmp: oneOf(env, 'SERVAL_ISOLATE_TMP', ['auto', 'off'] as const, 'auto'),
    ...overrides,
  };
  if (!/^[a-z0-9-]+$/.test(config.region))
    throw new ConfigError(`region must match [a-z0-9-]+: ${config.region}`);
  return config;
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
