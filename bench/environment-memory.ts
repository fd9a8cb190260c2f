// What one more warm Node environment costs in memory (issue #19 scope 2): Serval with 64 warm
// environments of the echo code, then /proc/<pid>/smaps_rollup of every process below the gateway
// (agents, their sandbox wrappers, runtimes), summed and divided by the environments.
// Private memory (Private_Clean + Private_Dirty) is what the target counts: pages no other process
// shares, so what the machine pays for each environment more. PSS is beside it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTree, stop } from './load-tools.ts';
import { startServalProcess } from './serval-process.ts';

export interface EnvironmentMemory {
  /** Agents running, and Node runtimes under them. */
  environments: number;
  runtimes: number;
  /** MB (10^6 bytes) per environment, agent and runtime and wrappers together. */
  privateMb: number;
  pssMb: number;
  /** The same for the agent processes alone and the runtimes alone. */
  agentPrivateMb: number;
  runtimePrivateMb: number;
  /** The same for the sandbox wrappers (bwrap) and the in-process supervisors (sh, ADR-54). */
  wrapperPrivateMb: number;
  supervisorPrivateMb: number;
  /** The gateway itself, not counted in the per-environment figures. */
  gatewayPrivateMb: number;
  /** Processes whose smaps_rollup could not be read (ended, or not ours to read). */
  unreadable: number;
}

interface Rollup {
  private: number;
  pss: number;
}

/** An environment's first Node process: an agent, or an in-process environment (ADR-52, the runtime inside it). */
// /proc's command lines are NUL-separated: the wrapper's and the supervisor's name main.js as an argument.
const isWrapper = (cmdline: string) => /^([^\0]*\/)?(unshare|bwrap)\0/.test(cmdline);
const isSupervisor = (cmdline: string) => cmdline.includes('in-process/supervise.sh');
/** An environment's first Node process: an agent, or an in-process environment; not its wrappers. */
export const isAgent = (cmdline: string) =>
  /(agent|in-process)\/main\.[jt]s/.test(cmdline) && !isWrapper(cmdline) && !isSupervisor(cmdline);
const isRuntime = (cmdline: string) => cmdline.includes('runtime-shims/node/bootstrap');

function rollup(pid: number): Rollup | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { private: (kb('Private_Clean') + kb('Private_Dirty')) * 1024, pss: kb('Pss') * 1024 };
}

/**
 * Starts its own Serval with `count` functions of the echo code and calls each twice, `parallel` at a
 * time: one environment per function, each with its runtime started (a runtime starts on an
 * environment's first call) and warm. Distinct functions rather than one function's pool, because a
 * burst against one fast function is served by whichever environments are free first, and the others
 * never start a runtime.
 */
export async function environmentMemory(
  codeDir: string,
  count: number,
  post: (url: string, body: string, agent: Agent) => Promise<{ status: number; text: string }>,
  parallel = 8,
  /** Another checkout's serval, for a before/after comparison in one run (environment-memory-ab.ts). */
  root?: string,
): Promise<EnvironmentMemory> {
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-memory-'));
  mkdirSync(join(dir, 'manifests'));
  const names = Array.from({ length: count }, (_, i) => `mem-${i}`);
  writeFileSync(
    join(dir, 'manifests/memory.yaml'),
    names
      .map(
        (name) =>
          `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: ${name}}\nspec: {runtime: nodejs24.x, handler: index.handler, code: {path: ${codeDir}}}\n`,
      )
      .join('---\n'),
  );
  const serval = await startServalProcess(
    join(dir, 'manifests'),
    { SERVAL_DATA_DIR: join(dir, 'data') },
    root,
  );
  const gatewayPid = serval.child.pid!;
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: parallel });
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < names.length; i += parallel)
        await Promise.all(
          names.slice(i, i + parallel).map(async (name) => {
            const a = await post(`${serval.url}/2015-03-31/functions/${name}/invocations`, '{"a":1}', agent);
            if (a.status !== 200) throw new Error(`Serval answered ${a.status}: ${a.text}`);
          }),
        );
    agent.destroy();
    await new Promise((r) => setTimeout(r, 1000)); // let start-up garbage be collected
    const tree = cpuTree(gatewayPid);
    let privateBytes = 0;
    let pss = 0;
    let agentPrivate = 0;
    let runtimePrivate = 0;
    let wrapperPrivate = 0;
    let supervisorPrivate = 0;
    let gatewayPrivate = 0;
    let unreadable = 0;
    let environments = 0;
    let runtimes = 0;
    for (const [pid, p] of tree) {
      const r = rollup(pid);
      if (!r) {
        unreadable++;
        continue;
      }
      if (p.depth === 0) {
        gatewayPrivate = r.private;
        continue;
      }
      privateBytes += r.private;
      pss += r.pss;
      if (isAgent(p.cmdline)) {
        environments++;
        agentPrivate += r.private;
      } else if (isRuntime(p.cmdline)) {
        runtimes++;
        runtimePrivate += r.private;
      } else if (isWrapper(p.cmdline)) {
        wrapperPrivate += r.private;
      } else if (isSupervisor(p.cmdline)) {
        supervisorPrivate += r.private;
      }
    }
    const mb = (bytes: number) => bytes / 1e6 / Math.max(1, environments);
    return {
      environments,
      runtimes,
      privateMb: mb(privateBytes),
      pssMb: mb(pss),
      agentPrivateMb: mb(agentPrivate),
      runtimePrivateMb: mb(runtimePrivate),
      wrapperPrivateMb: mb(wrapperPrivate),
      supervisorPrivateMb: mb(supervisorPrivate),
      gatewayPrivateMb: gatewayPrivate / 1e6,
      unreadable,
    };
  } finally {
    await stop(serval.child);
    rmSync(dir, { recursive: true, force: true });
  }
}
