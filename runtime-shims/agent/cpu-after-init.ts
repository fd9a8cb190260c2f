// A pod started with an init CPU boost (ADR-48): once the first init is done the agent tells the gateway,
// the controller resizes the pod to the function's proportional share, and the handler waits until the
// container's cgroup shows it, so that it runs on the CPU Lambda would give it. The wait is bounded: a
// kubelet that never resizes costs one cold start the bound, after which the controller stops boosting.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long the first handler waits for the resize at most. */
export const RESIZE_WAIT_MS = 2_000;
const POLL_MS = 20;

/** The container's CPU limit in millicores, from cgroup v2's cpu.max or v1's CFS quota; undefined if unlimited or unreadable. */
export function containerCpuMillicores(root = '/sys/fs/cgroup'): number | undefined {
  const read = (path: string) => {
    try {
      return readFileSync(`${root}/${path}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const v2 = read('cpu.max')?.split(/\s+/);
  const [quota, period] = v2 ?? [read('cpu/cpu.cfs_quota_us'), read('cpu/cpu.cfs_period_us')];
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || q <= 0 || !Number.isFinite(p) || p <= 0) return undefined;
  return (q / p) * 1000;
}

/** Resolves true once the limit is at most `millicores`, false after `boundMs` (or with no readable limit). */
export async function untilCpuAtMost(
  millicores: number,
  boundMs = RESIZE_WAIT_MS,
  read: () => number | undefined = containerCpuMillicores,
): Promise<boolean> {
  const deadline = performance.now() + boundMs;
  for (;;) {
    const now = read();
    if (now === undefined) return false;
    // Quota is whole microseconds of a period: allow for the rounding.
    if (now <= millicores + 0.5) return true;
    if (performance.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}
