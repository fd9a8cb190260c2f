// The deployment engine's time: wall-clock epoch ms (persisted, so a restart resumes at the right step)
// and an abortable sleep. `scale` shrinks every deployment interval, so tests run CodeDeploy's minutes in
// milliseconds; it is 1 in production.
import { SYSTEM_CLOCK } from '../event-sources/schedule/clock.ts';

export interface DeploymentClock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Multiplies every interval of a strategy (0 < scale ≤ 1). */
  readonly scale: number;
}

export function systemClock(scale = 1): DeploymentClock {
  return { scale, now: SYSTEM_CLOCK.now, sleep: SYSTEM_CLOCK.sleep };
}
