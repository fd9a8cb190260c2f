// In a pod the kernel's OOM killer, not the agent's resident-memory watch, ends a runtime that outgrows the
// container's limit (the limit covers the agent too). The container cgroup's oom_kill count tells the agent
// it was memory; the real-node test (test/kubernetes/real-node.test.ts) shows it end to end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readAgentConfig } from './config.ts';
import { RuntimeProcess } from './runtime-process.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function eventsFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'serval-oom-'));
  dirs.push(dir);
  const file = join(dir, 'memory.oom_control');
  writeFileSync(file, text);
  return file;
}

function sleeper(containerMemoryEvents: string | undefined): RuntimeProcess {
  return new RuntimeProcess('sleep', ['30'], tmpdir(), { PATH: process.env.PATH ?? '' }, () => undefined, {
    memoryMB: 10_240,
    cgroup: undefined,
    containerMemoryEvents,
  });
}

describe('a runtime killed in its container', () => {
  it('counts as out of memory when the container cgroup counted an OOM kill meanwhile', async () => {
    const file = eventsFile('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    const runtime = sleeper(file);
    writeFileSync(file, 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
    runtime.kill();
    await runtime.exited;
    expect(runtime.killedForMemory).toBe(true);
  });

  it('does not when the count is unchanged, or there is no container cgroup', async () => {
    for (const events of [eventsFile('low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n'), undefined]) {
      const runtime = sleeper(events);
      runtime.kill();
      await runtime.exited;
      expect(runtime.killedForMemory).toBe(false);
    }
  });

  it('takes the first of the listed files that exists (cgroup v2, then v1)', () => {
    const v1 = eventsFile('oom_kill 0\n');
    const env = { SERVAL_LINK_URL: 'ws://x/', SERVAL_ENVIRONMENT_TOKEN: 't' };
    const config = (list: string) =>
      readAgentConfig({ ...env, SERVAL_CONTAINER_MEMORY_EVENTS: list }, '/opt').containerMemoryEvents;
    expect(config(`/nonexistent/memory.events:${v1}`)).toBe(v1);
    expect(config('/nonexistent/memory.events')).toBeUndefined();
    expect(readAgentConfig(env, '/opt').containerMemoryEvents).toBeUndefined();
  });
});

// Without a cgroup (SERVAL_LOCAL_ISOLATION=off, or no per-runtime cgroup) the agent samples resident memory:
// the runtime's own every sample, its children's when it walks the tree (once a second).
describe('the resident-memory watch', () => {
  const hog = `const b = Buffer.alloc(200 * 1024 * 1024, 1); setInterval(() => b[0]++, 1000);`;
  const limits = { memoryMB: 64, cgroup: undefined };
  const env = { PATH: process.env.PATH ?? '' };

  it('kills a runtime that outgrows its memory', async () => {
    const runtime = new RuntimeProcess(process.execPath, ['-e', hog], tmpdir(), env, () => undefined, limits);
    const exit = await runtime.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(runtime.killedForMemory).toBe(true);
    expect(runtime.maxMemoryUsedMB()).toBeGreaterThan(64);
  }, 60_000);

  it('kills a runtime whose child outgrows it', async () => {
    const script = `"${process.execPath}" -e '${hog}'; sleep 60`;
    const runtime = new RuntimeProcess('/bin/sh', ['-c', script], tmpdir(), env, () => undefined, limits);
    await runtime.exited;
    expect(runtime.killedForMemory).toBe(true);
  }, 60_000);

  it('leaves a runtime within its memory alone', async () => {
    const runtime = new RuntimeProcess('sleep', ['30'], tmpdir(), env, () => undefined, limits);
    await new Promise((r) => setTimeout(r, 1500)); // past a tree walk
    expect(runtime.killedForMemory).toBe(false);
    runtime.kill();
    await runtime.exited;
    expect(runtime.killedForMemory).toBe(false);
  });
});
