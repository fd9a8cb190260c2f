// The Dockerfile, checked by reading it (no Docker engine here): every COPY source exists and survives
// .dockerignore, the images run as a numeric non-root user, and each image holds every file and package its
// entry points import.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/serval.ts';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      stages.push({ name, from, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const stage = (name: string) => stages.find((s) => s.name === name)!;
const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

/** Whether .dockerignore keeps a repository path out of the build context (the patterns this repo uses). */
function isIgnored(path: string): boolean {
  return ignored.some((pattern) => {
    const source = pattern
      .replace(/[.+^${}()|[\]]/g, '\\$&')
      .replace(/\*\*\//g, '\0')
      .replace(/\*/g, '[^/]*')
      .replace(/\0/g, '(.*/)?');
    return new RegExp(`^${source}(/.*)?$`).test(path);
  });
}

/** Sources and destination of the COPY instructions that read the build context. */
function contextCopies(s: Stage): { sources: string[]; dest: string }[] {
  return s.instructions
    .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
    .map((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return { sources: parts.slice(0, -1), dest: parts.at(-1)! };
    });
}

/** Repository paths (relative) that end up under the image's WORKDIR. */
function shippedPaths(s: Stage): string[] {
  return contextCopies(s).flatMap((c) => c.sources.map((src) => src.replace(/\/$/, '')));
}

const IMPORT = /(?:^|[\n;])\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/g;
const DYNAMIC_IMPORT = /import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Walks the static import graph from entry files: the repository files it reaches and the packages it names. */
function importGraph(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((e) => join(REPO_ROOT, e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = relative(REPO_ROOT, file);
    if (files.has(rel)) continue;
    files.add(rel);
    const text = readFileSync(file, 'utf8');
    const specifiers = [
      ...[...text.matchAll(IMPORT)].filter((m) => !m[1]).map((m) => m[2]!),
      ...[...text.matchAll(DYNAMIC_IMPORT)].map((m) => m[1]!),
    ];
    for (const spec of specifiers) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!existsSync(target) || !statSync(target).isFile())
          throw new Error(`${rel} imports missing ${spec}`);
        queue.push(target);
      } else if (!isBuiltin(spec)) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
  }
  return { files, packages };
}

function shipped(s: Stage, path: string): boolean {
  return !isIgnored(path) && shippedPaths(s).some((p) => path === p || path.startsWith(`${p}/`));
}

describe('Dockerfile', () => {
  it('has the deps, shims, serval and runtime stages on Node 24', () => {
    expect(stages.map((s) => s.name)).toEqual(['deps', 'shims', 'serval', 'runtime']);
    expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).toContain(
      'ARG NODE_IMAGE=node:24-bookworm-slim',
    );
    // Every stage starts from the one NODE_IMAGE argument.
    for (const s of stages) expect(s.from).toBe(['$', '{NODE_IMAGE}'].join(''));
    expect(stage('deps').instructions.find((i) => i.op === 'RUN')!.args).toContain('npm ci --omit=dev');
    expect(stage('runtime').instructions.find((i) => i.op === 'RUN')!.args).toMatch(
      /apt-get install -y --no-install-recommends python3/,
    );
  });

  it('installs production dependencies that npm ci --ignore-scripts can reproduce on any platform', () => {
    // The deps stage relies on this: a required platform-specific or scripted production package would
    // need `npm install` (the lock may lack other platforms' optional packages) or install scripts. An
    // optional one may be missing without harm (@platformatic/kafka falls back to its JS crc32c when the
    // native @node-rs/crc32 build for the platform is absent).
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
    const production = Object.entries(lock.packages as Record<string, Record<string, unknown>>).filter(
      ([path, p]) => path !== '' && !p.dev,
    );
    expect(production.length).toBeGreaterThan(10);
    const special = production
      .filter(([, p]) => ((p.os || p.cpu) && !p.optional) || p.hasInstallScript)
      .map(([path]) => path);
    expect(special).toEqual([]);
  });

  it('copies only sources that exist and that .dockerignore lets through', () => {
    for (const s of stages) {
      for (const { sources } of contextCopies(s)) {
        for (const src of sources) {
          expect(existsSync(join(REPO_ROOT, src)), `${s.name}: COPY ${src}`).toBe(true);
          expect(isIgnored(src.replace(/\/$/, '')), `${s.name}: COPY ${src} is in .dockerignore`).toBe(false);
        }
      }
    }
    // Directories must be copied one by one: `COPY a b ./` would spill their contents into one directory.
    for (const s of stages) {
      for (const c of contextCopies(s)) {
        const dirs = c.sources.filter((src) => statSync(join(REPO_ROOT, src)).isDirectory());
        if (dirs.length > 0) expect(c.sources, `${s.name}: COPY ${c.sources.join(' ')}`).toHaveLength(1);
      }
    }
    expect(isIgnored('runtime-shims/node/config.test.ts')).toBe(true);
    expect(isIgnored('runtime-shims/node/config.ts')).toBe(false);
  });

  it('runs each image as a numeric non-root user and starts it with the intended command', () => {
    const expected = {
      serval: { cmd: ['node', 'bin/serval.mjs', 'gateway'], source: 'bin/serval.mjs' },
      runtime: { cmd: ['node', 'runtime-shims/agent/main.js'], source: 'runtime-shims/agent/main.ts' },
    };
    for (const [name, { cmd, source }] of Object.entries(expected)) {
      const s = stage(name);
      const user = s.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
      expect(user, name).toBe('10001');
      expect(
        s.instructions.some((i) => i.op === 'ENTRYPOINT'),
        name,
      ).toBe(false);
      const cmds = s.instructions.filter((i) => i.op === 'CMD');
      expect(cmds).toHaveLength(1);
      expect(JSON.parse(cmds[0]!.args), name).toEqual(cmd);
      expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
      expect(shipped(name === 'runtime' ? stage('shims') : s, source), `${name} ships ${source}`).toBe(true);
      expect(s.instructions.find((i) => i.op === 'WORKDIR')?.args).toBe('/opt/serval');
    }
    expect(shippedPaths(stage('serval'))).toContain('package.json');
  });

  it("builds the runtime image's shims as JavaScript with the local provider's own build", () => {
    const shims = stage('shims');
    // The build's own imports are in the stage (node: built-ins only, so no packages).
    const build = importGraph(['gateway/src/providers/local/shim-build.ts']);
    expect([...build.files].filter((f) => !shipped(shims, f))).toEqual([]);
    expect([...build.packages]).toEqual([]);
    expect(shims.instructions.find((i) => i.op === 'RUN')?.args).toContain("writeShims('/src', '/out')");
    expect(shims.instructions.find((i) => i.op === 'WORKDIR')?.args).toBe('/src');
    expect(shippedPaths(shims)).toContain('package.json');
    const fromShims = stage('runtime').instructions.filter(
      (i) => i.op === 'COPY' && i.args.includes('--from=shims'),
    );
    expect(fromShims.map((i) => i.args)).toEqual(['--from=shims /out/ ./']);
    expect(contextCopies(stage('runtime'))).toEqual([]); // nothing from the context but through the build
  });

  it('the serval image holds every file the CLI imports, and its packages are production dependencies', () => {
    const { files, packages } = importGraph(['bin/serval.mjs']);
    expect(files.size).toBeGreaterThan(20);
    const missing = [...files].filter((f) => !shipped(stage('serval'), f));
    expect(missing).toEqual([]);
    const notProduction = [...packages].filter((p) => !pkg.dependencies[p]);
    expect(notProduction).toEqual([]);
    const copiesModules = stage('serval').instructions.some(
      (i) => i.op === 'COPY' && i.args === '--from=deps /opt/serval/node_modules node_modules',
    );
    expect(copiesModules).toBe(true);
  });

  it('the runtime image holds the agent, the Node and Python runtimes, and the one package they use', () => {
    const { files, packages } = importGraph([
      'runtime-shims/agent/main.ts',
      'runtime-shims/node/bootstrap.ts',
      // An in-process pod (ADR-58): pod.sh runs supervise.sh, main and, after a death by signal, the post-mortem.
      'runtime-shims/node/in-process/main.ts',
      'runtime-shims/node/in-process/post-mortem.ts',
    ]);
    // They reach the runtime image through the shims stage (above).
    const missing = [...files].filter((f) => !shipped(stage('shims'), f));
    expect(missing).toEqual([]);
    expect([...packages]).toEqual(['ws']);
    expect(shipped(stage('shims'), 'runtime-shims/python/bootstrap.py')).toBe(true);
    expect(shipped(stage('shims'), 'runtime-shims/node/in-process/pod.sh')).toBe(true);
    expect(shipped(stage('shims'), 'runtime-shims/node/in-process/supervise.sh')).toBe(true);
    expect(shipped(stage('shims'), 'runtime-shims/python/serval_lambda_runtime/loop.py')).toBe(true);
    const fromDeps = stage('runtime')
      .instructions.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=deps'))
      .map((i) => i.args);
    expect(fromDeps).toEqual(['--from=deps /opt/serval/node_modules/ws node_modules/ws']);
    // ws must stand alone: only its own directory is copied.
    const ws = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/ws/package.json'), 'utf8'));
    expect(ws.dependencies ?? {}).toEqual({});
  });
});
