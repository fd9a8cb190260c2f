// The gateway's backstop for calls no environment answers. Each environment enforces its function's
// timeout itself: the agent ends its runtime, and a local in-process environment's supervisor is told by
// the provider's deadline watch (ADR-57). But an in-process environment in a pod has nobody outside its Node
// process to end a handler that spins (ADR-58), and any environment can hang or be stopped. So one coarse
// timer for every link looks at the calls in flight, and a call still unanswered well past every limit its
// environment could have enforced ends its link: the caller gets Sandbox.Timedout, the environment goes
// (its pod is deleted, its local sandbox killed), and nothing waits forever. Nothing is done per call.

/** How often the calls in flight are looked at. */
const SWEEP_MS = 1000;
/** Past the function's timeout, how long an environment has to answer by itself (its own kill included). */
export const OVERDUE_GRACE_MS = 10_000;

export interface OverdueCheck {
  /** Ends what is overdue at `now` (epoch ms). */
  sweep(now: number): void;
}

const watched = new Set<OverdueCheck>();
let timer: NodeJS.Timeout | undefined;

/** Looks at `link` every SWEEP_MS until `unwatchOverdue`: a link is watched while it has calls in flight. */
export function watchOverdue(link: OverdueCheck): void {
  watched.add(link);
  timer ??= setInterval(sweepAll, SWEEP_MS).unref();
}

/** Per call, so only a set deletion: the timer stops at a sweep that finds nothing watched. */
export function unwatchOverdue(link: OverdueCheck): void {
  watched.delete(link);
}

function sweepAll(): void {
  if (watched.size === 0) {
    clearInterval(timer);
    timer = undefined;
    return;
  }
  const now = Date.now();
  for (const link of [...watched]) link.sweep(now);
}

/** The call ran past its function's timeout and every grace: the environment never answered. */
export class EnvironmentOverdueError extends Error {
  readonly timeoutSeconds: number;
  readonly durationMs: number;
  constructor(environmentId: string, timeoutSeconds: number, durationMs: number) {
    super(`environment ${environmentId} did not answer within its timeout (${timeoutSeconds} s)`);
    this.timeoutSeconds = timeoutSeconds;
    this.durationMs = durationMs;
  }
}
