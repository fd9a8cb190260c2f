// Tools for the side-by-side data-plane bench: wrk as the load generator (C, one thread, so it costs
// little of the two cores it shares with the system under test), CPU time per process from /proc, and
// AWS's Runtime Interface Emulator built from the Go module proxy and cached by version.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const CACHE = process.env.SERVAL_CACHE ?? join(homedir(), '.cache/serval');
/** The emulator has no tagged releases; this is the module proxy's latest pseudo-version when pinned. */
export const RIE_VERSION = 'v0.0.0-20261030222936-bef5c4ba774d';
const CLOCK_TICKS_PER_SECOND = 100;

export interface WrkResult {
  rate: number;
  p50: number;
  p99: number;
  /** Responses that were not 2xx/3xx, plus socket errors. */
  failures: number;
  requests: number;
  /** CPU seconds wrk itself used (user + system). */
  cpuSeconds: number;
  seconds: number;
}

const LUA = `wrk.method = "POST"\nwrk.body = '{"a":1}'\nwrk.headers["Content-Type"] = "application/json"\n`;
let luaFile: string | undefined;

/** `concurrency` keep-alive connections for `seconds`, closed loop, from one wrk thread. */
export async function wrk(url: string, concurrency: number, seconds: number): Promise<WrkResult> {
  if (!luaFile) {
    luaFile = join(mkdtempSync(join(tmpdir(), 'serval-wrk-')), 'post.lua');
    writeFileSync(luaFile, LUA);
  }
  // bash's `times` prints the CPU time of the children it reaped: wrk's own cost.
  const script = `wrk -t1 -c${concurrency} -d${seconds}s --latency -s '${luaFile}' '${url}' && times`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`)),
    );
  });
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const times = [...out.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return {
    rate: num(/Requests\/sec:\s+([\d.]+)/),
    p50: latencyMs(out, '50%'),
    p99: latencyMs(out, '99%'),
    failures:
      num(/Non-2xx or 3xx responses: (\d+)/) +
      (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
    requests: num(/(\d+) requests in/),
    // The last line of `times` is the children's user and system time.
    cpuSeconds: (times.at(-2) ?? 0) + (times.at(-1) ?? 0),
    seconds,
  };
}

function latencyMs(out: string, label: string): number {
  const m = new RegExp(`^\\s+${label}\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out);
  if (!m) return Number.NaN;
  const factor = m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1;
  return Number(m[1]) * factor;
}

export interface ProcessCpu {
  seconds: number;
  /** How far below the root: 0 is the root itself. */
  depth: number;
  /** The command line, NUL-separated as /proc has it. */
  cmdline: string;
}

/** CPU seconds so far of `root` and each of its descendants, by pid. */
export function cpuTree(root: number): Map<number, ProcessCpu> {
  const parent = new Map<number, number>();
  const seconds = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended while we looked
    }
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parent.set(Number(entry), Number(fields[1]));
    seconds.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND);
  }
  const tree = new Map<number, ProcessCpu>();
  const depthOf = (pid: number): number => {
    let depth = 0;
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p), depth++)
      if (p === root) return depth;
    return -1;
  };
  for (const [pid, s] of seconds) {
    const depth = depthOf(pid);
    if (depth < 0) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // ended while we looked
    }
    tree.set(pid, { seconds: s, depth, cmdline });
  }
  return tree;
}

/** CPU seconds used between two `cpuTree` snapshots, summed by the role `roleOf` gives each process. */
export function cpuByRole(
  before: Map<number, ProcessCpu>,
  after: Map<number, ProcessCpu>,
  roleOf: (p: ProcessCpu) => string,
): Map<string, number> {
  const byRole = new Map<string, number>();
  for (const [pid, p] of after) {
    const role = roleOf(p);
    byRole.set(role, (byRole.get(role) ?? 0) + p.seconds - (before.get(pid)?.seconds ?? 0));
  }
  return byRole;
}

/** Resolves once something accepts TCP connections on `port`, polling. */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
}

/** The emulator's binary, built with `go install` into the cache the first time. */
export function rieBinary(): string {
  const dir = join(CACHE, `rie-${RIE_VERSION}`);
  const bin = join(dir, 'aws-lambda-rie');
  if (existsSync(bin)) return bin;
  execFileSync(
    'go',
    [
      'install',
      '-trimpath',
      `github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${RIE_VERSION}`,
    ],
    { env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0' }, stdio: 'inherit' },
  );
  return bin;
}

/** The official npm runtime interface client, prepared as the conformance suite prepares it. */
export function nodeRic(root: string): string {
  const ric = join(CACHE, 'official-clients/node-ric/node_modules/aws-lambda-ric/index.mjs');
  if (!existsSync(ric))
    execFileSync('bash', [join(root, 'test/official-clients/prepare.sh')], { stdio: 'inherit' });
  return ric;
}

/** The emulator serving `handler` from `taskRoot` with the official Node client, on `port`. */
export function startRie(root: string, taskRoot: string, handler: string, port: number): ChildProcess {
  return spawn(
    rieBinary(),
    [
      '--runtime-interface-emulator-address',
      `127.0.0.1:${port}`,
      '--runtime-api-address',
      `127.0.0.1:${port + 1}`,
      process.execPath,
      nodeRic(root),
      handler,
    ],
    {
      cwd: taskRoot,
      env: { ...process.env, LAMBDA_TASK_ROOT: taskRoot, _HANDLER: handler },
      stdio: 'ignore',
    },
  );
}

/** Ends `child` and every process below it, and waits until `child` has exited. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  for (const pid of child.pid ? cpuTree(child.pid).keys() : []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await exited;
}
