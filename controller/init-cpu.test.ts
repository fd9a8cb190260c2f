import { describe, expect, it } from 'vitest';
import { functionResources, proportionalMillicores } from './init-cpu.ts';

describe('a function pod’s CPU (ADR-48)', () => {
  it('is proportional to memory: 1,769 MB is one vCPU', () => {
    expect(proportionalMillicores(128)).toBe(72);
    expect(proportionalMillicores(1769)).toBe(1000);
    expect(proportionalMillicores(10240)).toBe(5789);
  });

  it('starts boosted, requesting its share less a millicore so the QoS class survives the resize', () => {
    expect(functionResources(128, 1000)).toEqual({
      resources: { limits: { memory: '128Mi', cpu: '1000m' }, requests: { memory: '128Mi', cpu: '71m' } },
      afterInit: 72,
    });
  });

  it('is its share from the start when the boost is off or no more than the share', () => {
    const share = {
      limits: { memory: '2048Mi', cpu: '1158m' },
      requests: { memory: '2048Mi', cpu: '1158m' },
    };
    expect(functionResources(2048, 1000)).toEqual({ resources: share, afterInit: undefined });
    expect(functionResources(2048, 0)).toEqual({ resources: share, afterInit: undefined });
  });
});
