// boto3 (PyPI), which .ci/run and scripts/test-servers.sh install under $SERVAL_CACHE/boto3; one importable
// by python3 does too. Outside CI a missing boto3 skips the tests that need it; in CI it fails them.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runToEnd } from './run-process.ts';

const CACHED = join(process.env.SERVAL_CACHE ?? join(homedir(), '.cache/serval'), 'boto3');

function pythonPath(): string | undefined {
  if (existsSync(join(CACHED, 'boto3', '__init__.py'))) return CACHED;
  if (spawnSync('python3', ['-c', 'import boto3']).status === 0) return '';
  return undefined;
}

const found = pythonPath();
if (found === undefined && process.env.CI) throw new Error('boto3 is missing: run scripts/install-boto3.sh');
export const boto3Available = found !== undefined;

/** Runs a Python script with boto3 importable; resolves with its exit code and output. */
export function runBoto3(
  script: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  if (found === undefined) throw new Error('boto3 is not installed');
  return runToEnd('python3', ['-c', script], {
    ...process.env,
    ...(found ? { PYTHONPATH: found } : {}),
    AWS_ACCESS_KEY_ID: 'serval',
    AWS_SECRET_ACCESS_KEY: 'serval',
    AWS_DEFAULT_REGION: 'local',
    ...env,
  });
}

/**
 * A boto3 script of test/fixtures/control-api with the response-shape check (aws_shapes.py) before it:
 * every raw response body is checked against botocore's model of the Lambda API.
 */
export function shapeCheckedScript(name: string): string {
  const dir = join(import.meta.dirname, '../fixtures/control-api');
  return `${readFileSync(join(dir, 'aws_shapes.py'), 'utf8')}\n${readFileSync(join(dir, name), 'utf8')}`;
}
