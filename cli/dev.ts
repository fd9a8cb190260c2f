// `serval dev <dir>`: the embedded default — gateway and local environments for the manifests in a directory.
import { existsSync, statSync } from 'node:fs';
import { batchedLineWriter } from '../apis/line-writer.ts';
import type { GatewayConfig } from '../gateway/src/config.ts';
import { functionUrlId } from '../gateway/src/front-door/function-urls/url-table.ts';
import { startGateway } from '../gateway/src/gateway.ts';
import { FunctionLogFiles } from '../gateway/src/observability/function-log-files.ts';
import { LocalProvider } from '../gateway/src/providers/local/local-provider.ts';
import { FunctionRegistry } from '../gateway/src/registry/function-registry.ts';
import { formatProblem, loadManifestDirectory } from '../gateway/src/registry/manifest-loader.ts';

export async function dev(dir: string, config: GatewayConfig): Promise<void> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`${dir} is not a directory of Function manifests`);
  }
  const loaded = loadManifestDirectory(dir, config.dataDir);
  for (const problem of loaded.problems) process.stderr.write(`serval: skipped ${formatProblem(problem)}\n`);
  const registry = new FunctionRegistry();
  for (const fn of loaded.functions) registry.put(fn);

  const write = batchedLineWriter((chunk) => process.stdout.write(chunk));
  // Each function's stream also goes to its own file, which `serval logs <function> --follow` reads.
  const logFiles = new FunctionLogFiles(config.dataDir);
  const provider = new LocalProvider(config, (spec, line) => {
    write(`[${spec.functionName}] ${line}`);
    logFiles.append(spec.namespace, spec.functionName, line);
  });
  const gateway = await startGateway({
    config,
    registry,
    provider,
    aliases: loaded.aliases,
    eventSourceMappings: loaded.eventSourceMappings,
    // JSON lines stay bare so that log collectors can parse them.
    log: (line) => process.stderr.write(config.logFormat === 'json' ? `${line}\n` : `serval: ${line}\n`),
  });
  process.stdout.write(`Serval is listening on ${gateway.url} (data in ${config.dataDir})\n`);
  for (const fn of registry.list()) {
    process.stdout.write(
      `  ${fn.name.padEnd(24)} ${fn.spec.runtime.padEnd(12)} POST ${gateway.url}/2015-03-31/functions/${fn.name}/invocations\n`,
    );
  }
  for (const fn of registry.list().filter((f) => f.spec.url)) {
    const id = functionUrlId(fn.namespace, fn.name, fn.spec.url?.qualifier ?? '$LATEST');
    process.stdout.write(
      `  ${fn.name.padEnd(24)} function URL ${gateway.url}/lambda-url/${id}/ (Host: ${id}.${config.functionUrlDomain})\n`,
    );
  }
  if (registry.list().length === 0) process.stdout.write(`  (no functions loaded from ${dir})\n`);
  if (gateway.metricsUrl) process.stdout.write(`Metrics for Prometheus on ${gateway.metricsUrl}\n`);
  process.stdout.write(
    `Follow a function's log with: serval logs <function> --follow --data-dir ${config.dataDir}\n`,
  );

  const stop = async () => {
    await gateway.close();
    await logFiles.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
