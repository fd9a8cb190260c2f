// The `serval` command line: parses arguments and hands off to one command module.
import { parseArgs } from 'node:util';
import { ControllerConfigError } from '../controller/config.ts';
import { ConfigError, parseGatewayConfig } from '../gateway/src/config.ts';
import { ClusterConfigError } from './cluster-config-error.ts';
import { alias, type ControlOptions, publish } from './control.ts';
import { deployAction, deployStart, deployStatus } from './deploy.ts';
import { dev } from './dev.ts';
import { filterTest } from './filter.ts';
import {
  createFunction,
  deleteFunction,
  getFunction,
  listFunctions,
  listLayers,
  publishLayer,
  updateFunctionCode,
} from './functions.ts';
import { keysCreate, keysList, keysRevoke } from './keys.ts';
import { logs } from './logs.ts';
import { queueDeadLetters, queuePurge, queueRedrive, queueStats } from './queue.ts';
import { ScheduleInputError, scheduleNext } from './schedule.ts';
import { SignInputError, sign } from './sign.ts';

class UsageError extends Error {}

const USAGE = `Usage: serval <command> [options]

Commands:
  dev [dir]        Run Serval on this machine with the Function manifests in dir (default: examples)
      --port N       front-door port (default 8080, or SERVAL_PORT)
      --host H       address to listen on (default 127.0.0.1, or SERVAL_HOST)
      --data-dir D   where code, environments and state live (default .serval, or SERVAL_DATA_DIR)
      --metrics-port N  Prometheus /metrics port (default 9464, or SERVAL_METRICS_PORT; 0 with --port 0;
                        a free one when it is taken)
  logs <function> [--follow] [--tail N] [--namespace NS] [--data-dir D]
                   Print a function's log stream from a running or past \`serval dev\`; --follow keeps printing
  publish <function> [--description D]
                   Publish the function's current code and configuration as a new immutable version
  alias <function> <alias> --version N [--weight V=W]
                   Create or update an alias; --weight sends a share W (0-1) of calls to version V
  functions list | get <name> | delete <name>
  functions create <name> --runtime R [--handler H] --zip FILE [--role ARN] [--layer ARN ...]
  functions update-code <name> --zip FILE
                   Manage functions through the control-plane API (what the AWS CLI's lambda commands do)
  layers publish <name> --zip FILE [--runtime R ...] | layers list
                   Publish a layer version (unpacked into /opt of the functions that name it), list layers
  deploy <function> --alias A --version N --strategy S [--rollback-error-rate R]
         [--pre-traffic-hook F] [--post-traffic-hook F]
                   Shift the alias's traffic to version N on a CodeDeploy schedule (AllAtOnce,
                   Canary10Percent5Minutes, Linear10PercentEvery1Minute, ...), rolling back on errors
  deploy status|stop|rollback <function> --alias A
                   Show the alias's deployments; stop one where it is; or move all traffic back
  sign [manifest] --key PEM [--function F] [--sha256 HEX]
                   Print the detached signature of a function's code for spec.codeSigning.signature
  gateway          Run the gateway in a cluster (functions from the API server; see docs/kubernetes.md)
  controller       Run the controller in a cluster (pods, versions, status; see docs/kubernetes.md)
  queue stats      Async queue depth, oldest event age and dead letters
  queue dead-letters [--function F]
                   List events that no destination took (retries spent or too old)
  queue redrive [--function F] [--id ID ...]
                   Put dead letters back on the queue as fresh events
  queue purge (--function F | --id ID ...)
                   Delete dead letters
  keys create --identity NAME [--namespace NS] [--group G ...] [--description D]
                   Issue an access key for SigV4 (AWS CLI, SDKs); the secret is printed once
  keys list [--namespace NS]
                   List access keys (never their secrets)
  keys revoke <access-key-id>
                   Revoke an access key; requests signed with it are refused from then on
      --endpoint URL  the gateway for publish/alias/functions/layers/deploy/queue/keys (default http://127.0.0.1:8080, or SERVAL_ENDPOINT)
      --token JWT     bearer token when the gateway has auth on (or SERVAL_TOKEN); without one, an access
                      key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY signs requests with SigV4 (region:
                      SERVAL_REGION, AWS_REGION or local)
  schedule next '<expression>' [--count N] [--from ISO-8601] [--timezone ZONE]
                   Print the next N (default 5) fire times of a rate() or cron() expression, in UTC
  filter test --pattern P --event E
                   Does an event source filter pattern match a record? Exit 0 match, 1 no match, 2 invalid
  help             Show this help
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'dev': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            port: { type: 'string' },
            host: { type: 'string' },
            'data-dir': { type: 'string' },
            'metrics-port': { type: 'string' },
          },
        });
        // On a terminal the gateway's own log is text; containers get JSON (SERVAL_LOG_FORMAT).
        const env: NodeJS.ProcessEnv = { SERVAL_LOG_FORMAT: 'text', ...process.env };
        if (values['metrics-port'] !== undefined) env.SERVAL_METRICS_PORT = values['metrics-port'];
        if (values.port !== undefined) env.SERVAL_PORT = values.port;
        if (values.host !== undefined) env.SERVAL_HOST = values.host;
        if (values['data-dir'] !== undefined) env.SERVAL_DATA_DIR = values['data-dir'];
        await dev(positionals[0] ?? 'examples', parseGatewayConfig(env));
        return -1; // keeps running until signalled
      }
      case 'publish':
      case 'alias': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            ...CONTROL_FLAGS,
            description: { type: 'string' },
            version: { type: 'string' },
            weight: { type: 'string' },
          },
        });
        const options = controlOptions(values);
        if (command === 'publish') {
          if (positionals.length !== 1) throw new UsageError('usage: serval publish <function>');
          await publish(positionals[0]!, values.description, options);
        } else {
          if (positionals.length !== 2 || !values.version) {
            throw new UsageError('usage: serval alias <function> <alias> --version N [--weight V=W]');
          }
          await alias(positionals[0]!, positionals[1]!, values.version, values.weight, options);
        }
        return 0;
      }
      case 'functions':
      case 'layers': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            ...CONTROL_FLAGS,
            runtime: { type: 'string', multiple: true },
            handler: { type: 'string' },
            zip: { type: 'string' },
            role: { type: 'string' },
            layer: { type: 'string', multiple: true },
          },
        });
        await functionsCommand(command, positionals, values, controlOptions(values));
        return 0;
      }
      case 'deploy': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            ...CONTROL_FLAGS,
            alias: { type: 'string' },
            version: { type: 'string' },
            strategy: { type: 'string' },
            'rollback-error-rate': { type: 'string' },
            'pre-traffic-hook': { type: 'string' },
            'post-traffic-hook': { type: 'string' },
          },
        });
        const options = controlOptions(values);
        const [first, second] = positionals;
        if (first === 'status' || first === 'stop' || first === 'rollback') {
          if (!second || !values.alias || positionals.length !== 2)
            throw new UsageError(`usage: serval deploy ${first} <function> --alias A`);
          if (first === 'status') await deployStatus(second, values.alias, options);
          else await deployAction(first, second, values.alias, options);
          return 0;
        }
        if (!first || positionals.length !== 1 || !values.alias || !values.version || !values.strategy)
          throw new UsageError(
            'usage: serval deploy <function> --alias A --version N --strategy S [--rollback-error-rate R] ' +
              '[--pre-traffic-hook F] [--post-traffic-hook F]',
          );
        await deployStart(
          first,
          values.alias,
          {
            version: values.version,
            strategy: values.strategy,
            errorRate: values['rollback-error-rate'],
            preTrafficHook: values['pre-traffic-hook'],
            postTrafficHook: values['post-traffic-hook'],
          },
          options,
        );
        return 0;
      }
      case 'sign': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { key: { type: 'string' }, function: { type: 'string' }, sha256: { type: 'string' } },
        });
        if (!values.key || positionals.length > 1)
          throw new UsageError('usage: serval sign [manifest] --key PEM [--function F] [--sha256 HEX]');
        await sign(
          {
            manifest: positionals[0],
            functionName: values.function,
            sha256: values.sha256,
            keyFile: values.key,
          },
          (line) => process.stdout.write(`${line}\n`),
        );
        return 0;
      }
      case 'gateway': {
        // Loaded here: the Kubernetes client is most of what the cluster processes load, and no other command's.
        const { clusterGateway } = await import('./cluster.ts');
        await clusterGateway(parseGatewayConfig(process.env), process.env);
        return -1; // keeps running until signalled
      }
      case 'controller': {
        const { clusterController } = await import('./cluster.ts');
        await clusterController(process.env);
        return -1;
      }
      case 'queue': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            ...CONTROL_FLAGS,
            function: { type: 'string' },
            namespace: { type: 'string' },
            id: { type: 'string', multiple: true },
          },
        });
        const options = controlOptions(values);
        const filter = { function: values.function, namespace: values.namespace, ids: values.id };
        const sub = positionals[0];
        if (sub === 'stats') await queueStats(options);
        else if (sub === 'dead-letters') await queueDeadLetters(filter, options);
        else if (sub === 'redrive') await queueRedrive(filter, options);
        else if (sub === 'purge') {
          if (!filter.function && !filter.ids)
            throw new UsageError('usage: serval queue purge (--function F | --id ID ...)');
          await queuePurge(filter, options);
        } else throw new UsageError('usage: serval queue stats | dead-letters | redrive | purge');
        return 0;
      }
      case 'keys': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            ...CONTROL_FLAGS,
            identity: { type: 'string' },
            namespace: { type: 'string' },
            group: { type: 'string', multiple: true },
            description: { type: 'string' },
          },
        });
        const options = controlOptions(values);
        const sub = positionals[0];
        if (sub === 'create') {
          if (!values.identity)
            throw new UsageError('usage: serval keys create --identity NAME [--namespace NS]');
          const { identity, namespace, group: groups, description } = values;
          await keysCreate({ identity, namespace, groups, description }, options);
        } else if (sub === 'list') await keysList(values.namespace, options);
        else if (sub === 'revoke' && positionals.length === 2) await keysRevoke(positionals[1]!, options);
        else throw new UsageError('usage: serval keys create | list | revoke <access-key-id>');
        return 0;
      }
      case 'schedule': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { count: { type: 'string' }, from: { type: 'string' }, timezone: { type: 'string' } },
        });
        if (positionals[0] !== 'next' || positionals.length !== 2)
          throw new UsageError(
            "usage: serval schedule next '<expression>' [--count N] [--from T] [--timezone Z]",
          );
        scheduleNext(positionals[1]!, {
          ...values,
          now: Date.now,
          out: (line) => process.stdout.write(`${line}\n`),
        });
        return 0;
      }
      case 'logs': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            follow: { type: 'boolean', short: 'f' },
            tail: { type: 'string' },
            namespace: { type: 'string' },
            'data-dir': { type: 'string' },
          },
        });
        if (positionals.length !== 1)
          throw new UsageError('usage: serval logs <function> [--follow] [--tail N]');
        const env = { ...process.env };
        if (values['data-dir'] !== undefined) env.SERVAL_DATA_DIR = values['data-dir'];
        const config = parseGatewayConfig(env);
        const tail = values.tail === undefined ? undefined : Number(values.tail);
        if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0))
          throw new UsageError(`--tail must be a whole number, got "${values.tail}"`);
        await logs(positionals[0]!, {
          dataDir: config.dataDir,
          namespace: values.namespace ?? config.defaultNamespace,
          follow: values.follow ?? false,
          tail,
          out: (chunk) => process.stdout.write(chunk),
        });
        return 0;
      }
      case 'filter': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { pattern: { type: 'string' }, event: { type: 'string' } },
        });
        if (positionals[0] !== 'test' || values.pattern === undefined || values.event === undefined)
          throw new UsageError('usage: serval filter test --pattern P --event E');
        return filterTest({
          pattern: values.pattern,
          event: values.event,
          out: (l) => process.stdout.write(`${l}\n`),
        });
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(`serval: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`serval: ${message}\n`);
    return err instanceof ConfigError ||
      err instanceof ClusterConfigError ||
      err instanceof ControllerConfigError ||
      err instanceof UsageError ||
      err instanceof ScheduleInputError ||
      err instanceof SignInputError ||
      err instanceof TypeError
      ? 2
      : 1;
  }
}

async function functionsCommand(
  command: 'functions' | 'layers',
  [sub, name, ...extra]: string[],
  v: { runtime?: string[]; handler?: string; zip?: string; role?: string; layer?: string[] },
  o: ControlOptions,
): Promise<void> {
  const need = (ok: unknown, usage: string) => {
    if (!ok || extra.length > 0) throw new UsageError(`usage: serval ${command} ${usage}`);
  };
  if (command === 'layers') {
    if (sub === 'list') return listLayers(o);
    need(sub === 'publish' && name && v.zip, 'publish <name> --zip FILE [--runtime R ...] | list');
    return publishLayer(name!, v.zip!, v.runtime ?? [], o);
  }
  switch (sub) {
    case 'list':
      return listFunctions(o);
    case 'get':
      need(name, 'get <name>');
      return getFunction(name!, o);
    case 'delete':
      need(name, 'delete <name>');
      return deleteFunction(name!, o);
    case 'update-code':
      need(name && v.zip, 'update-code <name> --zip FILE');
      return updateFunctionCode(name!, v.zip!, o);
    case 'create':
      need(name && v.zip && v.runtime?.length === 1, 'create <name> --runtime R [--handler H] --zip FILE');
      return createFunction(
        name!,
        { runtime: v.runtime![0]!, handler: v.handler, zip: v.zip!, role: v.role, layers: v.layer },
        o,
      );
    default:
      throw new UsageError('usage: serval functions list | get | create | update-code | delete');
  }
}

/** Flags every command that talks to a running gateway takes. */
const CONTROL_FLAGS = { endpoint: { type: 'string' }, token: { type: 'string' } } as const;

/**
 * Where the gateway is and how to authenticate: flags first, then SERVAL_ENDPOINT / SERVAL_TOKEN; without
 * a token, an access key in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY signs with SigV4.
 */
function controlOptions(values: {
  endpoint?: string | undefined;
  token?: string | undefined;
}): ControlOptions {
  const env = process.env;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  return {
    endpoint: values.endpoint ?? env.SERVAL_ENDPOINT ?? 'http://127.0.0.1:8080',
    token: values.token ?? env.SERVAL_TOKEN,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    region: env.SERVAL_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    out: (line: string) => process.stdout.write(`${line}\n`),
  };
}
