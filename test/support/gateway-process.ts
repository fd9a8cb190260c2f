// The real `serval dev` gateway as a child process, so a test can tell whether a request ended it: an
// uncaught exception in an in-process gateway would be caught by the test runner instead.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type RunningCli, startCli } from './cli.ts';
import { freePort } from './free-port.ts';
import { type FunctionManifestInput, functionManifest, testDataRoot } from './serval.ts';

export interface GatewayProcess extends RunningCli {
  /** The listener agents dial (health check, environment links, the controller's demand list). */
  internalUrl: string;
  metricsUrl: string;
}

export async function startGatewayProcess(options: {
  functions?: FunctionManifestInput[];
  env?: NodeJS.ProcessEnv;
}): Promise<GatewayProcess> {
  const manifests = mkdtempSync(join(testDataRoot(), 'gateway-process-'));
  mkdirSync(manifests, { recursive: true });
  writeFileSync(
    join(manifests, 'functions.yaml'),
    (options.functions ?? []).map((f) => stringify(functionManifest(f))).join('---\n'),
  );
  const [internalPort, metricsPort] = [await freePort(), await freePort()];
  const cli = await startCli(['dev', manifests], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SERVAL_INTERNAL_PORT: String(internalPort),
      SERVAL_METRICS_PORT: String(metricsPort),
      SERVAL_LOG_FORMAT: 'text',
      ...options.env,
    },
  });
  return {
    ...cli,
    internalUrl: `http://127.0.0.1:${internalPort}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    async stop() {
      await cli.stop();
      rmSync(manifests, { recursive: true, force: true });
    },
  };
}
