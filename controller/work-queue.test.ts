import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.ts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('runs a key once however often it is added while waiting', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const q = new WorkQueue(
      async (k) => {
        seen.push(k);
        if (k === 'block') await gate;
      },
      () => undefined,
      1,
    );
    q.add('block');
    q.add('a');
    q.add('a');
    q.add('a');
    release();
    await tick(10);
    expect(seen).toEqual(['block', 'a']);
  });

  it('never runs one key twice at once, and runs it again if it changed meanwhile', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const q = new WorkQueue(
      async () => {
        running++;
        most = Math.max(most, running);
        runs++;
        await tick(20);
        running--;
      },
      () => undefined,
      4,
    );
    q.add('k');
    await tick(5);
    q.add('k');
    q.add('k');
    await tick(80);
    expect(most).toBe(1);
    expect(runs).toBe(2);
  });

  it('retries a failing key with backoff and logs why', async () => {
    const lines: string[] = [];
    let attempts = 0;
    const q = new WorkQueue(
      async () => {
        attempts++;
        if (attempts < 3) throw new Error(`boom ${attempts}`);
      },
      (l) => lines.push(l),
      1,
    );
    q.add('x');
    await tick(2000);
    expect(attempts).toBe(3);
    expect(lines[0]).toMatch(/reconcile x failed \(1\): boom 1; retry in 500 ms/);
    expect(lines[1]).toMatch(/retry in 1000 ms/);
  });
});
