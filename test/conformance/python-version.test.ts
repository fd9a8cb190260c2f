// A declared Python version is the one that runs; when the machine lacks it, `serval dev` says so at load
// time, naming what it found, and runs `python3` — or refuses the function with SERVAL_PYTHON_MISMATCH=refuse.
// Never a silent replacement. `serval dev` runs as a real process on a machine laid out by the test:
// PATH holds only `python3` (this machine's real interpreter), and a pyenv root holds that version under
// its own name, so the result does not depend on what else is installed here.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { resolvePython } from '../../gateway/src/providers/local/interpreters.ts';
import { type RunningCli, startCli } from '../support/cli.ts';
import { functionManifest, startServal, type TestServal, testDataRoot } from '../support/serval.ts';

const probe = spawnSync(
  'python3',
  ['-c', 'import sys; print(sys.executable); print("%d.%d" % sys.version_info[:2])'],
  {
    encoding: 'utf8',
  },
);
const [realPython = '', realMinor = ''] = probe.stdout.trim().split('\n');
/** A supported Python version this test's machine layout does not have. */
const otherMinor = ['3.12', '3.13', '3.11'].find((v) => v !== realMinor)!;

const HANDLER =
  'import sys\ndef handler(event, context):\n    return {"version": "%d.%d" % sys.version_info[:2], "executable": sys.executable}\n';
const python = (name: string, minor: string) =>
  functionManifest({
    name,
    runtime: `python${minor}`,
    handler: 'index.handler',
    inline: { 'index.py': HANDLER },
  });

const work = mkdtempSync(join(testDataRoot(), 'serval-python-version-'));
const pyenvRoot = join(work, 'pyenv');
let dev: RunningCli;
let strict: RunningCli;

beforeAll(async () => {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(realPython, join(bin, 'python3'));
  // pyenv keeps each version under versions/<x.y.z>/bin/python<x.y>.
  const versionBin = join(pyenvRoot, 'versions', `${realMinor}.99`, 'bin');
  mkdirSync(versionBin, { recursive: true });
  symlinkSync(realPython, join(versionBin, `python${realMinor}`));
  const manifests = join(work, 'manifests');
  mkdirSync(manifests);
  writeFileSync(
    join(manifests, 'functions.yaml'),
    [python('declared-present', realMinor), python('declared-missing', otherMinor)]
      .map((d) => stringify(d))
      .join('---\n'),
  );
  const home = join(work, 'home');
  mkdirSync(home);
  const machine = { PATH: bin, HOME: home, PYENV_ROOT: pyenvRoot };
  dev = await startCli(['dev', manifests], { replaceEnv: machine });
  strict = await startCli(['dev', manifests], {
    replaceEnv: { ...machine, SERVAL_PYTHON_MISMATCH: 'refuse' },
  });
});
afterAll(async () => {
  await dev?.stop();
  await strict?.stop();
  rmSync(work, { recursive: true, force: true });
});

const invoke = async (name: string, cli = dev) => {
  const res = await fetch(`${cli.url}/2015-03-31/functions/${name}/invocations`, {
    method: 'POST',
    body: '{}',
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
};

describe('declared Python version (local mode)', () => {
  it('runs the declared version, found under the pyenv root when PATH lacks it', async () => {
    const res = await invoke('declared-present');
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(realMinor);
    expect(res.body.executable).toBe(
      join(pyenvRoot, 'versions', `${realMinor}.99`, 'bin', `python${realMinor}`),
    );
  });

  it('warns at load time about a version the machine lacks, naming what it found and what runs', async () => {
    const warning = dev
      .stderr()
      .split('\n')
      .find((l) => l.includes('warning: declared-missing'));
    expect(warning).toContain(
      `declares python${otherMinor}, but Python ${otherMinor} is not on this machine (looked for python${otherMinor} on PATH`,
    );
    expect(warning).toContain(`found python3 is Python ${realMinor}.`);
    expect(warning).toMatch(new RegExp(`it runs on Python ${realMinor.replace('.', '\\.')}\\.\\d+ \\(`));
    const res = await invoke('declared-missing');
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(realMinor);
  });

  it('with SERVAL_PYTHON_MISMATCH=refuse, refuses that function at load time and serves the others', async () => {
    expect(strict.stderr()).toMatch(
      new RegExp(
        `skipped .*functions\\.yaml \\(document 2\\): spec\\.runtime: Python ${otherMinor} is not on this machine .*SERVAL_PYTHON_MISMATCH=refuse`,
      ),
    );
    expect((await invoke('declared-missing', strict)).status).toBe(404);
    expect((await invoke('declared-present', strict)).status).toBe(200);
  });
});

// On a machine that has another version too (pyenv, or python3.X on PATH), that version is what runs — the
// reported case: pyenv's `python3.12` shim failed under a 3.11 global, and 3.11 ran instead.
const installed = resolvePython(`python${otherMinor}`, process.env);
describe.skipIf(!(installed.ok && !installed.mismatch))(
  `python${otherMinor} installed on this machine`,
  () => {
    let serval: TestServal;
    beforeAll(async () => {
      serval = await startServal({
        functions: [
          {
            name: 'other',
            runtime: `python${otherMinor}`,
            handler: 'index.handler',
            inline: { 'index.py': HANDLER },
          },
        ],
      });
    });
    afterAll(() => serval?.stop());

    it('runs on exactly that version', async () => {
      expect((await serval.invoke('other')).json()).toMatchObject({ version: otherMinor });
    });
  },
);
