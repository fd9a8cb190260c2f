import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildShims, toJavaScript } from './shim-build.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'serval-shim-build-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('toJavaScript', () => {
  it('erases types where they stand and points relative .ts specifiers at .js', () => {
    const source = [
      "import { type A, b } from './a.ts';",
      "import type { C } from '../../apis/c.ts';",
      'export { d } from "./d/e.ts";',
      "const f = new URL('../node/bootstrap.ts', import.meta.url);",
      "import x from 'some-package/index.ts';",
      'export function g(a: A, c: C): number { return b(a) + (c as number); }',
    ].join('\n');
    const code = toJavaScript(source, 'x.ts');
    const lines = code.split('\n');
    expect(lines).toHaveLength(6); // every line where it was
    expect(lines[0]).toMatch(/^import \{\s+b \} from '\.\/a\.js';$/);
    expect(lines[2]).toBe('export { d } from "./d/e.js";');
    expect(lines[3]).toContain("'../node/bootstrap.js'");
    expect(lines[4]).toContain("'some-package/index.ts'"); // a package's own path is not ours to rename
    expect(code).not.toMatch(/: (A|C|number)\b|as number/);
    expect(lines[5]?.indexOf('return')).toBe(source.split('\n')[5]?.indexOf('return')); // columns too
  });

  it('refuses what Node cannot run from .ts either (an enum), naming the file', () => {
    expect(() => toJavaScript('enum E { A }', 'runtime-shims/e.ts')).toThrow(/runtime-shims\/e\.ts/);
  });
});

describe('buildShims', () => {
  it("builds the repository's shims into JavaScript that runs without Node's TypeScript stripper", () => {
    const cache = join(scratch, 'cache');
    const built = buildShims(REPO_ROOT, cache);
    expect(existsSync(join(built.runtimeShimsDir, 'agent/main.js'))).toBe(true);
    expect(existsSync(join(built.runtimeShimsDir, 'agent/main.ts'))).toBe(false);
    expect(existsSync(join(built.runtimeShimsDir, 'python/bootstrap.py'))).toBe(true);
    expect(existsSync(join(built.runtimeShimsDir, 'agent/config.test.js'))).toBe(false);
    // The in-process entry point imports nearly every module of the agent and the Node runtime, and ws.
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(join(built.runtimeShimsDir, 'node/in-process/in-process-client.js'))});
         await import(${JSON.stringify(join(built.runtimeShimsDir, 'agent/upstream-link.js'))});
         await import(${JSON.stringify(join(built.runtimeShimsDir, 'node/start-runtime.js'))});
         console.log(JSON.stringify(process.moduleLoadList.filter((m) => /amaro/.test(m))));`,
      ],
      { encoding: 'utf8', env: { ...process.env, NODE_COMPILE_CACHE: '' } },
    );
    expect(probe.stderr).toBe('');
    expect(JSON.parse(probe.stdout)).toEqual([]);
    // The same sources again: the same tree, not rebuilt.
    writeFileSync(join(built.root, 'marker'), '');
    expect(buildShims(REPO_ROOT, cache)).toEqual(built);
    expect(existsSync(join(built.root, 'marker'))).toBe(true);
  });

  it('builds again when a source changes, and replaces a tree that is not a whole build', () => {
    const repo = join(scratch, 'repo');
    mkdirSync(join(repo, 'runtime-shims/agent'), { recursive: true });
    mkdirSync(join(repo, 'apis'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(repo, 'node_modules'));
    writeFileSync(
      join(repo, 'runtime-shims/agent/main.ts'),
      "import { n } from '../../apis/n.ts';\nconsole.log(n);\n",
    );
    writeFileSync(join(repo, 'apis/n.ts'), 'export const n: number = 1;\n');
    const cache = join(scratch, 'cache-2');
    const first = buildShims(repo, cache);
    const run = () =>
      spawnSync(process.execPath, [join(first.runtimeShimsDir, 'agent/main.js')], { encoding: 'utf8' })
        .stdout;
    expect(run()).toBe('1\n');

    writeFileSync(join(repo, 'apis/n.ts'), 'export const n: number = 2;\n');
    const second = buildShims(repo, cache);
    expect(second.root).not.toBe(first.root);
    expect(readFileSync(join(second.root, 'apis/n.js'), 'utf8')).toContain('= 2');

    rmSync(join(second.root, '.complete')); // a tree that is not a whole build
    rmSync(join(second.root, 'apis/n.js'));
    expect(buildShims(repo, cache)).toEqual(second);
    expect(readFileSync(join(second.root, 'apis/n.js'), 'utf8')).toContain('= 2');
  });
});
