// The pre-warmed agent's throwaway Runtime API exchange (ADR-50) completes on its own and leaves nothing open.
import { describe, expect, it } from 'vitest';
import { warmUp } from './warm-up.ts';

describe('warmUp', () => {
  it('runs one invocation through a Runtime API server of its own, then closes it', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    await expect(warmUp('127.0.0.1')).resolves.toBeUndefined();
    await new Promise((r) => setTimeout(r, 50)); // a closed handle goes in the loop's close phase
    expect(process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length).toBe(before);
  });
});
