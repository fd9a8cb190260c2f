// `serval dev <dir>`: the embedded default — gateway and local environments for the manifests in a directory.
import { existsSync, statSync } from 'node:fs';
import { batchedLineWriter } from '../apis/line-writer.ts';
import type { GatewayConfig } from '../gateway/src/config.ts';
import { preparePrivateDataDir } from '../gateway/src/data-dir.ts';
import { functionUrlId } from '../gateway/src/front-door/function-urls/url-table.ts';
import { startGateway } from '../gateway/src/gateway.ts';
import { FunctionLogFiles } from '../gateway/src/observability/function-log-files.ts';
import { resolvePython } from '../gateway/src/providers/local/interpreters.ts';
import { LocalProvider } from '../gateway/src/providers/local/local-provider.ts';
import type { FunctionDefinition } from '../gateway/src/registry/function-definition.ts';
import { FunctionRegistry } from '../gateway/src/registry/function-registry.ts';
import { formatProblem, loadManifestDirectory } from '../gateway/src/registry/manifest-loader.ts';
import { watchManifests } from '../gateway/src/registry/manifest-watch.ts';

export async function dev(dir: string, config: GatewayConfig): Promise<void> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`${dir} is not a directory of Function manifests`);
  }
  preparePrivateDataDir(config.dataDir); // before inline code is written into it
  // A declared Python version this machine lacks is said at load time, or refused (interpreters.ts).
  const warned = new Set<string>();
  const checkFunction = (fn: FunctionDefinition) => {
    const { runtime } = fn.spec;
    if (!runtime?.startsWith('python')) return undefined;
    const python = resolvePython(runtime, process.env);
    if (!python.ok) return python.message;
    if (!python.mismatch || warned.has(`${fn.name} ${runtime}`)) return undefined;
    if (config.pythonMismatch === 'refuse') return `${python.mismatch} (SERVAL_PYTHON_MISMATCH=refuse)`;
    warned.add(`${fn.name} ${runtime}`);
    process.stderr.write(
      `serval: warning: ${fn.name} declares ${runtime}, but ${python.mismatch}; it runs on Python ` +
        `${python.version} (${python.executable}) instead. Install Python ${runtime.slice(6)} for ` +
        'parity with Lambda, or set SERVAL_PYTHON_MISMATCH=refuse to refuse such functions\n',
    );
    return undefined;
  };
  const load = () => loadManifestDirectory(dir, config.dataDir, { checkFunction });
  const loaded = load();
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
  for (const note of provider.isolationNotes) process.stderr.write(`serval: ${note}\n`);
  const gateway = await startGateway({
    config,
    registry,
    provider,
    aliases: loaded.aliases,
    codeSigningConfigs: loaded.codeSigningConfigs,
    eventSourceMappings: loaded.eventSourceMappings,
    // JSON lines stay bare so that log collectors can parse them.
    log: (line) => process.stderr.write(config.logFormat === 'json' ? `${line}\n` : `serval: ${line}\n`),
  });
  process.stdout.write(`Serval is listening on ${gateway.url} (data in ${config.dataDir})\n`);
  const endpoints = (fn: FunctionDefinition): string => {
    let lines = `  ${fn.name.padEnd(24)} ${(fn.spec.runtime ?? 'image').padEnd(12)} POST ${gateway.url}/2015-03-31/functions/${fn.name}/invocations\n`;
    if (fn.spec.url) {
      // The path form works with every client; `*.localhost` names resolve in curl and browsers only.
      const id = functionUrlId(fn.namespace, fn.name, fn.spec.url.qualifier ?? '$LATEST');
      lines += `  ${fn.name.padEnd(24)} function URL ${gateway.url}/lambda-url/${id}/ (or Host: ${id}.${config.functionUrlDomain})\n`;
    }
    return lines;
  };
  for (const fn of registry.list()) process.stdout.write(endpoints(fn));
  if (registry.list().length === 0) process.stdout.write(`  (no functions loaded from ${dir})\n`);
  if (gateway.metricsUrl) process.stdout.write(`Metrics for Prometheus on ${gateway.metricsUrl}\n`);
  process.stdout.write(
    `Follow a function's log with: npx serval logs <function> --follow --data-dir ${config.dataDir}\n`,
  );

  // Edits to manifests and to `path:` code take effect at the next call, without a restart.
  const watcher = watchManifests({
    dir,
    load,
    dataDir: config.dataDir,
    registry,
    initial: loaded.functions,
    events: {
      loaded: (fn) => process.stdout.write(`loaded ${fn.name} (${fn.source})\n${endpoints(fn)}`),
      reloaded: (fn) => process.stdout.write(`reloaded ${fn.name}\n`),
      removed: (fn) => process.stdout.write(`removed ${fn.name}\n`),
      problem: (line) => process.stderr.write(`serval: ${line}\n`),
    },
  });

  const stop = async () => {
    watcher.close();
    await gateway.close();
    await logFiles.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
