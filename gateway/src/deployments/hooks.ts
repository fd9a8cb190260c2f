// Pre- and post-traffic hooks: functions run synchronously through the Invoker, as CodeDeploy runs its
// BeforeAllowTraffic and AfterAllowTraffic hooks. CodeDeploy's hook receives {DeploymentId,
// LifecycleEventHookExecutionId} and answers with PutLifecycleEventHookExecutionStatus; a Serval hook gets
// the same two fields plus the deployment's context, and answers with its return value
// (`{"status":"Succeeded"}` or `{"status":"Failed"}`), since the engine waits for it. See docs/deployments.md.
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../../apis/errors.ts';
import type { Invoker } from '../invocation/invoker.ts';

export type LifecycleEvent = 'BeforeAllowTraffic' | 'AfterAllowTraffic';

export interface HookEvent {
  DeploymentId: string;
  LifecycleEventHookExecutionId: string;
  LifecycleEvent: LifecycleEvent;
  /** The function being deployed, its alias, and the versions traffic moves between. */
  FunctionName: string;
  Alias: string;
  CurrentVersion: string;
  TargetVersion: string;
}

export type HookOutcome = { ok: true } | { ok: false; reason: string };

export interface HookRunner {
  run(
    namespace: string,
    hook: string,
    event: Omit<HookEvent, 'LifecycleEventHookExecutionId'>,
  ): Promise<HookOutcome>;
}

/** Reads a hook's answer: Succeeded passes; Failed, a function error or any other answer fails. */
export function hookOutcome(hook: string, functionError: string | undefined, body: Buffer): HookOutcome {
  if (functionError) return { ok: false, reason: `hook ${hook} failed with ${functionError}` };
  let answer: unknown;
  try {
    answer = JSON.parse(body.toString('utf8'));
  } catch {
    answer = undefined;
  }
  const status =
    typeof answer === 'object' && answer !== null
      ? ((answer as Record<string, unknown>).status ?? (answer as Record<string, unknown>).Status)
      : answer;
  if (status === 'Succeeded') return { ok: true };
  if (status === 'Failed') return { ok: false, reason: `hook ${hook} reported Failed` };
  return {
    ok: false,
    reason: `hook ${hook} answered ${body.toString('utf8').slice(0, 200) || 'nothing'}; expected {"status":"Succeeded"} or {"status":"Failed"}`,
  };
}

export function invokerHooks(invoker: Invoker): HookRunner {
  return {
    async run(namespace, hook, event) {
      const payload: HookEvent = { ...event, LifecycleEventHookExecutionId: randomUUID() };
      try {
        const out = await invoker.invoke(
          invoker.resolve(namespace, hook),
          Buffer.from(JSON.stringify(payload)),
        );
        return hookOutcome(
          hook,
          out.result.outcome === 'error' ? (out.result.errorType ?? 'an error') : undefined,
          out.body,
        );
      } catch (err) {
        const why = err instanceof ApiError ? `${err.type}: ${err.message}` : String(err);
        return { ok: false, reason: `hook ${hook} could not run: ${why}` };
      }
    },
  };
}
