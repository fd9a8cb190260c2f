// Each local environment in its own Linux user, mount, PID, network and IPC namespaces, where the kernel lets
// an unprivileged user create them: its own loopback (the Runtime API on 127.0.0.1:9001, as in Lambda and in a
// pod), its own process tree (ending its first process ends them all) and a file system view holding only
// the system's programs and libraries, Serval's runtimes, the function's code and its own /tmp. bubblewrap
// (bwrap) builds it in one process with one system call per mount, where a shell script took some forty
// processes (ADR-55).
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildServalCompileCache, type ShimTree } from './compile-cache.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** What the agent and the managed runtimes load from Serval's own tree. */
const SERVAL_PATHS = ['package.json', 'apis', 'runtime-shims', 'node_modules'].map((p) => join(REPO_ROOT, p));
const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Lambda's sbx_user1051. */
const SANDBOX_UID = '993';
const SANDBOX_GID = '990';
const ETC_PATHS = [
  'passwd',
  'group',
  'hosts',
  'host.conf',
  'nsswitch.conf',
  'resolv.conf',
  'gai.conf',
  'protocols',
  'services',
  'localtime',
  'timezone',
  'mime.types',
  'os-release',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'alternatives',
  'ssl/certs',
  'ssl/openssl.cnf',
  'ca-certificates',
  'ca-certificates.conf',
].map((p) => `/etc/${p}`);
/**
 * One user namespace (the agent is uid 993 in it, with no capabilities and no_new_privs, so it cannot remount
 * its view), and its own mount, PID, network (a loopback only, brought up by bwrap) and IPC namespaces.
 */
const NAMESPACES = [
  '--unshare-user',
  '--unshare-pid',
  '--unshare-net',
  '--unshare-ipc',
  '--uid',
  SANDBOX_UID,
  '--gid',
  SANDBOX_GID,
  '--cap-drop',
  'ALL',
  // The agent is the namespace's process 1: when it ends, the kernel ends every process left in it.
  '--as-pid-1',
  // And it ends with bwrap, which the gateway starts and stops.
  '--die-with-parent',
];
/** A minimal /dev: the five character devices programs use, the fd links, a /dev/shm of its own. */
const DEV = [
  ...['--size', String(64 * 1024), '--tmpfs', '/dev'],
  ...['null', 'zero', 'full', 'random', 'urandom'].flatMap((n) => ['--dev-bind', `/dev/${n}`, `/dev/${n}`]),
  ...['--symlink', '/proc/self/fd', '/dev/fd'],
  ...['stdin', 'stdout', 'stderr'].flatMap((n, fd) => ['--symlink', `/proc/self/fd/${fd}`, `/dev/${n}`]),
  ...['--perms', '1777', '--tmpfs', '/dev/shm'],
  ...['--remount-ro', '/dev'],
];

/** The Runtime API inside the environment's own network namespace. */
export const SANDBOX_RUNTIME_API = '127.0.0.1:9001';
/** Where it sees the V8 compile cache of Serval's own code, read-only. */
export const SANDBOX_COMPILE_CACHE = '/var/cache/serval/node-compile-cache';

export interface SandboxView {
  /** The host directory that becomes /tmp. */
  tmpDir: string;
  /**
   * The function's code, seen read-only at its own path, with the node_modules of its ancestors (where
   * Node resolves packages from, in a repository or monorepo).
   */
  codeDir: string;
  /**
   * Where the view shows the code instead of its own path: a pre-warmed environment's own code directory
   * at /var/task (ADR-50), which then has no ancestors' node_modules.
   */
  codeAt?: string | undefined;
  /** The function's merged layers, read-only at /opt as in Lambda. */
  optDir?: string | undefined;
  /** Serval's own compile cache (compile-cache.ts), read-only at SANDBOX_COMPILE_CACHE, if built yet. */
  compileCacheDir: string | undefined;
  /** Host paths seen read-only at their own paths. */
  readOnly: string[];
  /** Host directories seen writable at their own paths (SERVAL_LOCAL_SHARED_DIRS). */
  shared: string[];
}

/**
 * Host paths every environment sees read-only, besides its code and a copy of ETC_PATHS: the system, Node,
 * Serval's runtimes.
 */
export function sharedReadOnlyPaths(): string[] {
  const node = dirname(dirname(realpathSync(process.execPath)));
  const cache = servalCacheDir();
  return [...SYSTEM_PATHS, node, ...SERVAL_PATHS, ...(cache ? [cache] : [])];
}

/** The installation prefix of an interpreter (`/usr`, `~/.pyenv/versions/3.12.1`), which it needs to run. */
export function interpreterPaths(executable: string): string[] {
  const prefix = dirname(dirname(realpathSync(executable)));
  // A version manager's link (pyenv versions/<x>/bin/pythonX.Y) is run by its own path, so its directory is needed too.
  const linkDir = dirname(executable);
  return linkDir.startsWith(`${prefix}/`) ? [prefix] : [prefix, linkDir];
}

/** The command that starts `command` inside a new sandbox with the given view. */
export function sandboxCommand(view: SandboxView, command: string[]): { file: string; args: string[] } {
  const ro = (from: string, to = from) => ['--ro-bind', from, to];
  const rw = (from: string, to = from) => ['--bind', from, to];
  const args = [
    ...NAMESPACES,
    // /tmp first: a shared path under the host's /tmp (a clone in /tmp) is then bound inside it.
    ...rw(view.tmpDir, '/tmp'),
    ...ETC_PATHS.filter((p) => existsSync(p)).flatMap((p) => ro(p)),
    ...compact([
      ...view.readOnly,
      ...(view.codeAt ? [] : [view.codeDir, ...ancestorNodeModules(view.codeDir)]),
    ]).flatMap((p) => (isRootLink(p) ? ['--symlink', readlinkSync(p), p] : ro(p))),
    ...(view.codeAt ? ro(view.codeDir, view.codeAt) : []),
    ...compact(view.shared).flatMap((p) => rw(p)),
    ...(view.compileCacheDir ? ro(view.compileCacheDir, SANDBOX_COMPILE_CACHE) : []),
    ...(view.optDir ? ro(view.optDir, '/opt') : []),
    ...DEV,
    ...['--proc', '/proc'],
    ...['--remount-ro', '/'],
    '--',
    ...command,
  ];
  return { file: 'bwrap', args };
}

/** A merged-/usr link such as /bin -> usr/bin: the view gets the same link, not a second bind. */
function isRootLink(p: string): boolean {
  return dirname(p) === '/' && lstatSync(p).isSymbolicLink();
}

let probed: { reason: string | undefined } | undefined;

/**
 * Whether sandboxes can be made here: runs a whole one once per process, so a kernel or container that
 * refuses any part of it (user namespaces, mounts, loopback) is found at start-up. Returns the reason if not.
 */
export function sandboxUnavailable(): string | undefined {
  if (!probed) {
    probed = { reason: probeSandbox() };
  }
  return probed.reason;
}

/**
 * Serval's compile cache of `shims` under `cacheRoot`, built in a sandbox like an environment's (seeing
 * `readOnly`), so that its paths and uid are theirs.
 */
export function startCompileCacheBuild(cacheRoot: string, shims: ShimTree, readOnly: string[]): void {
  buildServalCompileCache(cacheRoot, shims, (work, script) => {
    const tmp = mkdtempSync(join(tmpdir(), 'serval-compile-cache-'));
    // The one view where the cache is writable, at its own path.
    const view = {
      tmpDir: tmp,
      codeDir: tmp,
      compileCacheDir: undefined,
      readOnly,
      shared: [work],
    };
    const { file, args } = sandboxCommand(view, script);
    return {
      file,
      args,
      cacheEnv: work,
      cleanup: () => rmSync(tmp, { recursive: true, force: true }),
    };
  });
}

function servalCacheDir(): string | undefined {
  return process.env.SERVAL_CACHE ?? (process.env.HOME && join(process.env.HOME, '.cache', 'serval'));
}

function probeSandbox(): string | undefined {
  if (process.platform !== 'linux') return 'namespaces are a Linux feature';
  const dir = mkdtempSync(join(tmpdir(), 'serval-probe-'));
  try {
    for (const sub of ['tmp', 'code']) mkdirSync(join(dir, sub));
    const { file, args } = sandboxCommand(
      {
        tmpDir: join(dir, 'tmp'),
        codeDir: join(dir, 'code'),
        compileCacheDir: undefined,
        readOnly: sharedReadOnlyPaths(),
        shared: [],
      },
      [process.execPath, '-e', ''],
    );
    const probe = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000 });
    if (probe.status === 0) return undefined;
    if ((probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      return 'bwrap (bubblewrap) is not installed';
    const said = (probe.stderr || probe.error?.message || '').trim().split('\n').pop();
    return said || `bwrap exited with ${probe.status ?? probe.signal}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Whether code at `dir` may load packages from its parents' node_modules, which a view showing it at
 * /var/task cannot offer: such a function is not pre-warmed (ADR-50).
 */
export function hasAncestorNodeModules(dir: string): boolean {
  return ancestorNodeModules(dir).some((p) => existsSync(p));
}

function ancestorNodeModules(dir: string): string[] {
  const found: string[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    found.push(join(d, 'node_modules'));
    if (d === dirname(d)) return found; // compact() drops those that do not exist
  }
}

/** Existing paths, each once, leaving out any inside another (a bind mount already shows it). */
function compact(paths: string[]): string[] {
  const existing = [...new Set(paths)].filter((p) => existsSync(p)).sort();
  return existing.filter(
    (p) => !existing.some((q) => q !== p && p.startsWith(q.endsWith(sep) ? q : q + sep)),
  );
}
