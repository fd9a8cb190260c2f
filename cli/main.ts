// The `serval` command line: parses arguments and hands off to one command module.
import { parseArgs } from 'node:util';
import { ConfigError, parseGatewayConfig } from '../gateway/src/config.ts';
import { alias, publish } from './control.ts';
import { dev } from './dev.ts';

class UsageError extends Error {}

const USAGE = `Usage: serval <command> [options]

Commands:
  dev [dir]        Run Serval on this machine with the Function manifests in dir (default: examples)
      --port N       front-door port (default 8080, or SERVAL_PORT)
      --host H       address to listen on (default 127.0.0.1, or SERVAL_HOST)
      --data-dir D   where code, environments and state live (default .serval, or SERVAL_DATA_DIR)
  publish <function> [--description D]
                   Publish the function's current code and configuration as a new immutable version
  alias <function> <alias> --version N [--weight V=W]
                   Create or update an alias; --weight sends a share W (0-1) of calls to version V
      --endpoint URL  the gateway for publish/alias (default http://127.0.0.1:8080, or SERVAL_ENDPOINT)
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
          options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' } },
        });
        const env = { ...process.env };
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
            endpoint: { type: 'string' },
            description: { type: 'string' },
            version: { type: 'string' },
            weight: { type: 'string' },
          },
        });
        const options = {
          endpoint: values.endpoint ?? process.env.SERVAL_ENDPOINT ?? 'http://127.0.0.1:8080',
          out: (line: string) => process.stdout.write(`${line}\n`),
        };
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
    return err instanceof ConfigError || err instanceof UsageError || err instanceof TypeError ? 2 : 1;
  }
}
