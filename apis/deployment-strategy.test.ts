import { describe, expect, it } from 'vitest';
import {
  PREDEFINED_STRATEGIES,
  parseStrategy,
  STRATEGY_NAME,
  StrategyError,
  schedule,
} from './deployment-strategy.ts';

const MIN = 60_000;

describe('parseStrategy', () => {
  it('reads every predefined CodeDeploy configuration, with or without the CodeDeployDefault.Lambda prefix', () => {
    for (const name of PREDEFINED_STRATEGIES) {
      expect(parseStrategy(name)).toEqual(parseStrategy(`CodeDeployDefault.Lambda${name}`));
    }
    expect(parseStrategy('Canary10Percent30Minutes')).toEqual({ kind: 'Canary', percent: 10, minutes: 30 });
    expect(parseStrategy('Linear10PercentEvery1Minute')).toEqual({ kind: 'Linear', percent: 10, minutes: 1 });
    expect(parseStrategy('AllAtOnce')).toEqual({ kind: 'AllAtOnce' });
  });

  it('reads custom configurations in the same naming', () => {
    expect(parseStrategy('Canary25Percent45Minutes')).toEqual({ kind: 'Canary', percent: 25, minutes: 45 });
    expect(parseStrategy('Linear33PercentEvery7Minutes')).toEqual({
      kind: 'Linear',
      percent: 33,
      minutes: 7,
    });
    expect(parseStrategy('Canary5Percent1Minute')).toEqual({ kind: 'Canary', percent: 5, minutes: 1 });
  });

  it.each([
    'Linear10PercentEvery1Minutes', // plural with 1
    'Canary10Percent5Minute', // singular with 5
    'Canary0Percent5Minutes',
    'Canary100Percent5Minutes',
    'Linear10PercentEvery0Minutes',
    'Canary10Percent05Minutes',
    'Blue/Green',
    'allatonce',
    '',
  ])('refuses %j with the accepted forms in the message', (name) => {
    expect(STRATEGY_NAME.test(name)).toBe(false);
    expect(() => parseStrategy(name)).toThrow(StrategyError);
    expect(() => parseStrategy(name)).toThrow(/Canary<P>Percent<M>Minute\(s\)/);
  });
});

describe('schedule', () => {
  it('AllAtOnce moves everything at once', () => {
    expect(schedule(parseStrategy('AllAtOnce'))).toEqual([{ atMs: 0, weight: 1 }]);
  });

  it('a canary sends P % first and the rest after M minutes', () => {
    expect(schedule(parseStrategy('Canary10Percent5Minutes'))).toEqual([
      { atMs: 0, weight: 0.1 },
      { atMs: 5 * MIN, weight: 1 },
    ]);
  });

  it('a linear strategy adds P % every M minutes and reaches 100 % in ceil(100/P) steps', () => {
    const steps = schedule(parseStrategy('Linear10PercentEvery3Minutes'));
    expect(steps).toHaveLength(10);
    expect(steps.map((s) => s.atMs)).toEqual(Array.from({ length: 10 }, (_, i) => i * 3 * MIN));
    expect(steps.map((s) => Math.round(s.weight * 100))).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    // 30 % steps: 30, 60, 90, then the remainder.
    expect(schedule(parseStrategy('Linear30PercentEvery2Minutes')).map((s) => s.weight)).toEqual([
      0.3, 0.6, 0.9, 1,
    ]);
  });
});
