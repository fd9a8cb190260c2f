// serverless-offline for the side-by-side data-plane bench (issue #19 scope 6): serverless v3 and the
// serverless-offline plugin, pinned, installed by the bench into a cache of its own (never into the
// project's dependencies), serving the same echo handler on its Lambda Invoke endpoint
// (`POST /2015-03-31/functions/<name>/invocations`), the path Serval and RIE are driven on.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE, waitForPort } from './load-tools.ts';

export const SERVERLESS_VERSION = '3.40.0';
/** The last line that supports serverless v3 (14.x needs v4, which wants an account login). */
export const SERVERLESS_OFFLINE_VERSION = '13.9.0';
const SERVICE = 'bench';
const STAGE = 'dev';

/** The cache's node_modules with both packages, installed with npm the first time. */
export function serverlessOfflineModules(): string {
  const dir = join(
    CACHE,
    `serverless-offline-${SERVERLESS_OFFLINE_VERSION}-serverless-${SERVERLESS_VERSION}`,
  );
  const modules = join(dir, 'node_modules');
  if (existsSync(modules)) return modules;
  // Installed beside and renamed into place, so an interrupted install is never taken for a finished one.
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  writeFileSync(join(partial, 'package.json'), '{"private":true}\n');
  execFileSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--save-exact',
      `serverless@${SERVERLESS_VERSION}`,
      `serverless-offline@${SERVERLESS_OFFLINE_VERSION}`,
    ],
    { cwd: partial, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  renameSync(partial, dir);
  return modules;
}

/** A port nobody holds now: serverless-offline takes fixed ports from its configuration. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export interface ServerlessOffline {
  child: ChildProcess;
  /** The service directory (a temporary copy of the code and serverless.yml). */
  dir: string;
  /** The Invoke URL of function `name` of the service. */
  invokeUrl: (name: string) => string;
}

/** serverless-offline serving `handler` from a copy of `codeDir` as each of `functions`. */
export async function startServerlessOffline(
  codeDir: string,
  handler: string,
  functions: string[],
): Promise<ServerlessOffline> {
  const modules = serverlessOfflineModules();
  const service = mkdtempSync(join(tmpdir(), 'serval-bench-sls-'));
  cpSync(codeDir, service, { recursive: true });
  symlinkSync(modules, join(service, 'node_modules'));
  const [lambdaPort, httpPort, websocketPort, albPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  // nodejs20.x is the newest runtime name serverless v3's schema knows; the handler runs in this
  // Node (24) either way, in a worker thread of serverless-offline's own process (its default).
  const yaml = [
    `service: ${SERVICE}`,
    "frameworkVersion: '3'",
    'provider: {name: aws, runtime: nodejs20.x, region: us-east-1}',
    'plugins: [serverless-offline]',
    `custom: {serverless-offline: {host: 127.0.0.1, lambdaPort: ${lambdaPort}, httpPort: ${httpPort}, websocketPort: ${websocketPort}, albPort: ${albPort}, noPrependStageInUrl: true}}`,
    'functions:',
    ...functions.map((name) => `  ${name}: {handler: ${handler}}`),
    '',
  ].join('\n');
  writeFileSync(join(service, 'serverless.yml'), yaml);
  const child = spawn(
    process.execPath,
    [join(modules, 'serverless/bin/serverless.js'), 'offline', 'start', '--stage', STAGE],
    {
      cwd: service,
      env: {
        ...process.env,
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        SLS_DEPRECATION_DISABLE: '*',
      },
      stdio: 'ignore',
    },
  );
  await waitForPort(lambdaPort, 60_000);
  return {
    child,
    dir: service,
    invokeUrl: (name) =>
      `http://127.0.0.1:${lambdaPort}/2015-03-31/functions/${SERVICE}-${STAGE}-${name}/invocations`,
  };
}
