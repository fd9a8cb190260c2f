// CodeDeploy's traffic-shifting configurations by name, and the schedule of weights each one applies.
// Pure: the deployment engines in the gateway (local mode) and the controller (cluster mode) both use it.

const MINUTES = '(1Minute|([2-9]|[1-9][0-9]{1,3})Minutes)';
const PERCENT = '[1-9][0-9]?Percent';

/**
 * `AllAtOnce`, `Canary<P>Percent<M>Minute(s)`, `Linear<P>PercentEvery<M>Minute(s)`, optionally with
 * CodeDeploy's `CodeDeployDefault.Lambda` prefix. "Minute" is singular exactly when M is 1, as in
 * `Linear10PercentEvery1Minute`. RE2-safe, so the CRD carries it as is.
 */
export const STRATEGY_NAME = new RegExp(
  `^(CodeDeployDefault\\.Lambda)?(AllAtOnce|Canary${PERCENT}${MINUTES}|Linear${PERCENT}Every${MINUTES})$`,
);

/** CodeDeploy's predefined Lambda configurations (without the `CodeDeployDefault.Lambda` prefix). */
export const PREDEFINED_STRATEGIES = [
  'AllAtOnce',
  'Canary10Percent5Minutes',
  'Canary10Percent10Minutes',
  'Canary10Percent15Minutes',
  'Canary10Percent30Minutes',
  'Linear10PercentEvery1Minute',
  'Linear10PercentEvery2Minutes',
  'Linear10PercentEvery3Minutes',
  'Linear10PercentEvery10Minutes',
] as const;

export type Strategy =
  | { kind: 'AllAtOnce' }
  | { kind: 'Canary'; percent: number; minutes: number }
  | { kind: 'Linear'; percent: number; minutes: number };

/** One step: from `atMs` after the deployment's traffic started moving, the target gets `weight` (0-1). */
export interface Step {
  atMs: number;
  weight: number;
}

export class StrategyError extends Error {}

export function parseStrategy(name: string): Strategy {
  if (!STRATEGY_NAME.test(name)) {
    throw new StrategyError(
      `unknown strategy "${name}": use AllAtOnce, Canary<P>Percent<M>Minute(s) or ` +
        'Linear<P>PercentEvery<M>Minute(s), e.g. Canary10Percent5Minutes or Linear10PercentEvery1Minute',
    );
  }
  const bare = name.replace(/^CodeDeployDefault\.Lambda/, '');
  if (bare === 'AllAtOnce') return { kind: 'AllAtOnce' };
  const [, kind, percent, minutes] = /^(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?$/.exec(bare)!;
  return { kind: kind as 'Canary' | 'Linear', percent: Number(percent), minutes: Number(minutes) };
}

const MINUTE_MS = 60_000;

/**
 * The weights a strategy applies, as CodeDeploy does: a canary sends P % at once and the rest after M
 * minutes; a linear one adds P % every M minutes until all traffic has moved (the last step may be smaller).
 * The first step is at 0; the last always has weight 1.
 */
export function schedule(strategy: Strategy): Step[] {
  if (strategy.kind === 'AllAtOnce') return [{ atMs: 0, weight: 1 }];
  const interval = strategy.minutes * MINUTE_MS;
  if (strategy.kind === 'Canary') {
    return [
      { atMs: 0, weight: strategy.percent / 100 },
      { atMs: interval, weight: 1 },
    ];
  }
  const steps: Step[] = [];
  for (let i = 0; ; i++) {
    const percent = Math.min(100, (i + 1) * strategy.percent);
    steps.push({ atMs: i * interval, weight: percent / 100 });
    if (percent === 100) return steps;
  }
}
