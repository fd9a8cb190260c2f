// Shared by the local-isolation security tests: whether this host can sandbox, and what runs under the gateway.
import { readdirSync, readFileSync } from 'node:fs';
import type { TestContext } from 'vitest';

/**
 * Namespaced environments are what these tests check. Where the kernel refuses unprivileged namespaces the
 * tests skip with the reason (outside CI); in CI such a host is a failure.
 */
export function requireSandbox(sandboxed: boolean, ctx: TestContext): void {
  if (sandboxed) return;
  const reason = 'this host refuses unprivileged user/mount/PID/network namespaces (see docs/security.md)';
  if (process.env.CI) throw new Error(`CI must run the isolation tests, but ${reason}`);
  ctx.skip(reason);
}

/** Every process below pid (its children, theirs, …), from /proc. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** Pids whose command line is exactly `args`. */
export function processesRunning(args: string[]): number[] {
  const wanted = `${args.join('\0')}\0`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/cmdline`, 'utf8') === wanted;
      } catch {
        return false;
      }
    })
    .map(Number);
}

export async function eventually<T>(
  probe: () => T | undefined,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function invoke(url: string, name: string, payload: unknown = {}, headers = {}) {
  const res = await fetch(`${url}/2015-03-31/functions/${name}/invocations`, {
    method: 'POST',
    headers,
    body: JSON.stringify(payload),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
