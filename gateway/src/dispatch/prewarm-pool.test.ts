// The pre-warm pool's bookkeeping (ADR-50) against a recording provider: demand, refill, one taker per
// generic environment, expiry. Real processes are in test/integration/prewarm.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EnvironmentSpec } from '../../../apis/environment-link.ts';
import { type GenericLaunch, type PrewarmingProvider, PrewarmPool } from './prewarm-pool.ts';

type Spec = Omit<EnvironmentSpec, 'environmentId'>;
const spec = (functionName: string, runtime = 'nodejs24.x', memoryMB = 128) =>
  ({ functionName, runtime, memoryMB }) as Spec;

class RecordingProvider implements PrewarmingProvider {
  readonly launched: Array<GenericLaunch & { stopped: boolean; end: (reason: string) => void }> = [];
  prewarmable = (s: Spec) => s.runtime !== 'image';
  launchGeneric(launch: GenericLaunch) {
    let end!: (reason: string) => void;
    const exited = new Promise<string>((r) => {
      end = r;
    });
    const record = { ...launch, stopped: false, end };
    this.launched.push(record);
    return {
      launched: {
        exited,
        stop: () => {
          record.stopped = true;
          end('stopped');
        },
      },
      specialise: () => undefined,
    };
  }
}

describe('the pre-warm pool', () => {
  let provider: RecordingProvider;
  let pool: PrewarmPool;
  beforeEach(() => {
    vi.useFakeTimers();
    provider = new RecordingProvider();
    pool = new PrewarmPool(
      provider,
      (id) => `ws://gateway/${id}`,
      () => undefined,
      {
        perProfile: 2,
        idleMs: 60_000,
        refillDelayMs: 10,
      },
    );
  });
  afterEach(() => {
    pool.close();
    vi.useRealTimers();
  });

  it('keeps none for a profile never used, and fills one after its first cold start', () => {
    expect(provider.launched).toHaveLength(0);
    expect(pool.take(spec('a'))).toBeUndefined();
    vi.advanceTimersByTime(10);
    expect(provider.launched.map((l) => [l.runtime, l.memoryMB])).toEqual([
      ['nodejs24.x', 128],
      ['nodejs24.x', 128],
    ]);
    expect(pool.stats()).toEqual({ 'nodejs24.x/128': 2 });
  });

  it('hands each generic environment to one taker only, and refills behind it', () => {
    pool.take(spec('a'));
    vi.advanceTimersByTime(10);
    const first = pool.take(spec('b'));
    const second = pool.take(spec('c'));
    expect(first?.environmentId).toBeDefined();
    expect(second?.environmentId).toBeDefined();
    expect(first?.environmentId).not.toBe(second?.environmentId);
    expect(first?.token).not.toBe(second?.token);
    expect(pool.take(spec('d'))).toBeUndefined();
    vi.advanceTimersByTime(10);
    expect(provider.launched).toHaveLength(4);
    expect(new Set(provider.launched.map((l) => l.environmentId)).size).toBe(4);
  });

  it('keeps profiles apart: another memory size is another profile', () => {
    pool.take(spec('a'));
    vi.advanceTimersByTime(10);
    expect(pool.take(spec('big', 'nodejs24.x', 1024))).toBeUndefined();
    expect(pool.take(spec('py', 'python3.12'))).toBeUndefined();
    expect(pool.take(spec('b'))).toBeDefined();
  });

  it('never offers one for what the provider cannot pre-warm', () => {
    expect(pool.take(spec('img', 'image'))).toBeUndefined();
    vi.advanceTimersByTime(10);
    expect(provider.launched).toHaveLength(0);
  });

  it('drops one that ended while waiting, and starts its replacement only at the next cold start', async () => {
    pool.take(spec('a'));
    vi.advanceTimersByTime(10);
    provider.launched[0]!.end('agent exited with 1');
    await vi.advanceTimersByTimeAsync(1000);
    expect(pool.stats()).toEqual({ 'nodejs24.x/128': 1 });
    expect(provider.launched).toHaveLength(2);
    expect(pool.take(spec('b'))?.environmentId).toBe(provider.launched[1]!.environmentId);
    vi.advanceTimersByTime(10);
    expect(provider.launched).toHaveLength(4);
    expect(pool.stats()).toEqual({ 'nodejs24.x/128': 2 });
  });

  it('ends a profile once it had no cold start for the idle time', () => {
    pool.take(spec('a'));
    vi.advanceTimersByTime(10);
    vi.advanceTimersByTime(61_000);
    expect(provider.launched.every((l) => l.stopped)).toBe(true);
    expect(pool.stats()).toEqual({});
  });

  it('starts nothing with pre-warming off', () => {
    const off = new PrewarmPool(
      provider,
      (id) => id,
      () => undefined,
      { perProfile: 0, idleMs: 1000 },
    );
    expect(off.take(spec('a'))).toBeUndefined();
    vi.advanceTimersByTime(1000);
    expect(provider.launched).toHaveLength(0);
    off.close();
  });
});
