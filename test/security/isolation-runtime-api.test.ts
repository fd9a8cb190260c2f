// #11.7: another local user found a function's Runtime API port in /proc/net/tcp, took its invocations
// from /next and forged their responses. Each environment now has its own network namespace: the Runtime
// API listens on that environment's own 127.0.0.1:9001, as in Lambda and in a pod.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServal, type TestServal } from '../support/serval.ts';
import { descendants, requireSandbox } from './isolation-support.ts';

const SLEEPER = `export const handler = async (event) => {
  await new Promise((r) => setTimeout(r, event.ms ?? 0));
  return { api: process.env.AWS_LAMBDA_RUNTIME_API };
};`;

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'api-probe',
        runtime: 'nodejs22.x',
        handler: 'index.handler',
        inline: { 'index.mjs': SLEEPER },
      },
    ],
  });
});
afterAll(() => serval?.stop());

/** Inodes of the sockets listening on the host's loopback, as any local user reads them. */
function hostListeningInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A') inodes.add(fields[9]!); // LISTEN
    }
  }
  return inodes;
}

function socketInodes(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((inode): inode is string => inode !== undefined);
  } catch {
    return [];
  }
}

describe('isolation: the Runtime API', () => {
  it("is not reachable from the host: no environment's listener is in the host's socket table", async (ctx) => {
    requireSandbox(serval.isolatesTmp, ctx);
    const pending = serval.invoke('api-probe', { ms: 1500 });
    // While the invocation runs, look for the environment's listener as the attacker did.
    await new Promise((r) => setTimeout(r, 700));
    const environment = descendants(process.pid);
    const listening = hostListeningInodes();
    const exposed = environment.flatMap(socketInodes).filter((inode) => listening.has(inode));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(environment.length).toBeGreaterThan(0);
    expect(exposed).toEqual([]);
    expect(res.json()).toEqual({ api: '127.0.0.1:9001' });
  });

  it("puts each environment in a network namespace of its own, not the gateway's", async (ctx) => {
    requireSandbox(serval.isolatesTmp, ctx);
    expect((await serval.invoke('api-probe')).status).toBe(200);
    const own = readlinkSync('/proc/self/ns/net');
    const namespaces = new Set(
      descendants(process.pid).flatMap((pid) => {
        try {
          return [readlinkSync(`/proc/${pid}/ns/net`)];
        } catch {
          return [];
        }
      }),
    );
    namespaces.delete(own); // unshare itself stays in the gateway's namespace
    expect(namespaces.size).toBe(1);
  });
});
