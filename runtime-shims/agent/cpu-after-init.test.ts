import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { containerCpuMillicores, untilCpuAtMost } from './cpu-after-init.ts';

describe('the container CPU limit the first handler waits for (ADR-48)', () => {
  const dirs: string[] = [];
  const root = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'serval-cgroup-'));
    dirs.push(dir);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), `${text}\n`);
    }
    return dir;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reads cgroup v2 cpu.max and v1 CFS quota, and no limit as none', () => {
    expect(containerCpuMillicores(root({ 'cpu.max': '7200 100000' }))).toBe(72);
    expect(containerCpuMillicores(root({ 'cpu.max': 'max 100000' }))).toBeUndefined();
    const v1 = { 'cpu/cpu.cfs_quota_us': '100000', 'cpu/cpu.cfs_period_us': '100000' };
    expect(containerCpuMillicores(root(v1))).toBe(1000);
    expect(containerCpuMillicores(root({ ...v1, 'cpu/cpu.cfs_quota_us': '-1' }))).toBeUndefined();
    expect(containerCpuMillicores(root({}))).toBeUndefined();
  });

  it('resolves once the limit comes down, and gives up at its bound or without a limit', async () => {
    const readings = [1000, 1000, 72];
    expect(await untilCpuAtMost(72, 10_000, () => readings.shift() ?? 72)).toBe(true);
    expect(readings).toEqual([]);
    expect(await untilCpuAtMost(72, 50, () => 1000)).toBe(false);
    expect(await untilCpuAtMost(72, 10_000, () => undefined)).toBe(false);
  });
});
