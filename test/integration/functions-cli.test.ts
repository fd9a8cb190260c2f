// `serval functions` and `serval layers` drive the same control-plane API as the AWS CLI, against a real
// gateway: a function made from a zip with a layer runs, is listed, updated and deleted.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startServal, type TestServal, testDataRoot } from '../support/serval.ts';
import { makeZip } from '../support/zip.ts';

let serval: TestServal;
let work: string;
const run = promisify(execFile);
const serv = async (...args: string[]) =>
  (
    await run(process.execPath, ['bin/serval.mjs', ...args, '--endpoint', serval.url], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    })
  ).stdout.trim();

beforeAll(async () => {
  work = mkdtempSync(join(testDataRoot(), 'functions-cli-'));
  serval = await startServal({});
}, 60_000);
afterAll(async () => {
  await serval?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('serval functions and serval layers', () => {
  it('publishes a layer, creates, lists, updates and deletes a function', async () => {
    const layerZip = join(work, 'layer.zip');
    writeFileSync(layerZip, makeZip({ 'nodejs/node_modules/suffix/index.js': `module.exports = '!';\n` }));
    expect(await serv('layers', 'publish', 'suffix', '--zip', layerZip, '--runtime', 'nodejs24.x')).toBe(
      'suffix: version 1 (arn:serval:lambda:local:default:layer:suffix:1)',
    );
    expect(await serv('layers', 'list')).toMatch(/^suffix\s+arn:serval:lambda:local:default:layer:suffix:1$/);
    const code = (label: string) =>
      makeZip({
        'index.cjs': `const s = require('suffix');\nexports.handler = async () => '${label}' + s;\n`,
      });
    const zip = join(work, 'fn.zip');
    writeFileSync(zip, code('one'));
    expect(
      await serv(
        'functions',
        'create',
        'cli-made',
        '--runtime',
        'nodejs24.x',
        '--handler',
        'index.handler',
        '--zip',
        zip,
        '--layer',
        'arn:serval:lambda:local:default:layer:suffix:1',
      ),
    ).toMatch(/^cli-made: created \(arn:serval:lambda:local:default:function:cli-made, CodeSha256 /);
    expect((await serval.invoke('cli-made')).json()).toBe('one!');
    expect(await serv('functions', 'list')).toMatch(/^cli-made\s+nodejs24\.x\s+\d{4}-/);
    writeFileSync(zip, code('two'));
    expect(await serv('functions', 'update-code', 'cli-made', '--zip', zip)).toMatch(/code updated/);
    expect((await serval.invoke('cli-made')).json()).toBe('two!');
    expect(JSON.parse(await serv('functions', 'get', 'cli-made')).Configuration.Layers).toHaveLength(1);
    expect(await serv('functions', 'delete', 'cli-made')).toBe('cli-made: deleted');
    await expect(serv('functions', 'get', 'cli-made')).rejects.toThrow(/ResourceNotFoundException/);
  }, 300_000);
});
