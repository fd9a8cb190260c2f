// The AWS CLI v1 (PyPI `awscli`), which .ci/run and scripts/test-servers.sh install under $SERVAL_CACHE/awscli;
// an `aws` on PATH does too. Outside CI a missing CLI skips the tests that need it; in CI it fails them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runToEnd } from './run-process.ts';

const CACHED = join(process.env.SERVAL_CACHE ?? join(homedir(), '.cache/serval'), 'awscli');

function cliCommand(): { command: string; env: NodeJS.ProcessEnv } | undefined {
  if (existsSync(join(CACHED, 'bin', 'aws'))) {
    return {
      command: join(CACHED, 'bin', 'aws'),
      env: { PYTHONPATH: CACHED },
    };
  }
  if (spawnSync('aws', ['--version']).status === 0) return { command: 'aws', env: {} };
  return undefined;
}

const found = cliCommand();
if (!found && process.env.CI) throw new Error('the AWS CLI is missing: run scripts/install-awscli.sh');
export const awsCliAvailable = found !== undefined;

export function aws(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!found) throw new Error('the AWS CLI is not installed');
  return runToEnd(found.command, args, {
    ...process.env,
    ...found.env,
    AWS_ACCESS_KEY_ID: 'serval',
    AWS_SECRET_ACCESS_KEY: 'serval',
    AWS_DEFAULT_REGION: 'local',
    AWS_PAGER: '',
    ...env,
  });
}
