// Starts `serval dev` as its own process for a benchmark, so the load generator does not share its event
// loop, and resolves with the front door's URL once it listens. Function logs are drained, never kept.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');

export async function startServalProcess(
  manifests: string,
  env: Record<string, string> = {},
  /** Another checkout's serval, for a before/after comparison in one run. */
  root: string = ROOT,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['bin/serval.mjs', 'dev', manifests], {
    cwd: root,
    env: { ...process.env, SERVAL_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const scan = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      child.stdout!.off('data', scan);
      child.stdout!.resume();
      resolve(m[1]!);
    };
    child.stdout!.on('data', scan);
    child.once('exit', (code) => reject(new Error(`serval dev exited with ${code}`)));
  });
  return { url, child };
}
