// A deployment on an Alias (`spec.deployment`): shift the alias's traffic to a new version on a CodeDeploy
// schedule, run pre- and post-traffic hooks, and roll back when the new version misbehaves. Its progress is
// the Alias's `status.deployment`. See docs/deployments.md.
import { z } from 'zod';
import { STRATEGY_NAME } from './deployment-strategy.ts';

const FUNCTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const RollbackSchema = z
  .object({
    /** Roll back when more than this share (0-1) of the target version's invocations fail. */
    errorRate: z.number().min(0).max(1).optional(),
    /** Roll back when more than this share (0-1) of calls routed to the target version are throttled. */
    throttleRate: z.number().min(0).max(1).optional(),
    /** Roll back when the target version's p99 run time exceeds this many milliseconds. */
    p99DurationMs: z.number().int().min(1).max(900_000).optional(),
    /** Rates are judged only once the target version has served this many calls in a step (default 1). */
    minInvocations: z.number().int().min(1).max(1_000_000).optional(),
    /**
     * PromQL expressions read as alert conditions: any returned sample with a non-zero value rolls back.
     * `{{namespace}}`, `{{function}}`, `{{alias}}` and `{{version}}` (the target) are substituted.
     */
    promql: z.array(z.string().min(1).max(4096)).max(10).optional(),
  })
  .strict();

export const DeploymentSpecSchema = z
  .object({
    /** A CodeDeploy configuration name: AllAtOnce, Canary10Percent5Minutes, Linear10PercentEvery1Minute, … */
    strategy: z
      .string()
      .max(128)
      .regex(
        STRATEGY_NAME,
        'must be AllAtOnce, Canary<P>Percent<M>Minute(s) or Linear<P>PercentEvery<M>Minute(s)',
      ),
    /** The published version the alias's traffic moves to. */
    targetVersion: z.string().regex(/^[1-9][0-9]*$/, 'must be a published version number'),
    /** A function run before any traffic moves; it must report Succeeded. */
    preTrafficHook: z.string().regex(FUNCTION_NAME).max(64).optional(),
    /** A function run once all traffic has moved; Failed rolls back. */
    postTrafficHook: z.string().regex(FUNCTION_NAME).max(64).optional(),
    rollback: RollbackSchema.optional(),
  })
  .strict();

export const DEPLOYMENT_PHASES = [
  'PreTrafficHook',
  'Shifting',
  'PostTrafficHook',
  'Paused',
  'Succeeded',
  'RolledBack',
  'Failed',
  'Stopped',
] as const;
export type DeploymentPhase = (typeof DEPLOYMENT_PHASES)[number];
export const FINISHED_PHASES: readonly DeploymentPhase[] = ['Succeeded', 'RolledBack', 'Failed', 'Stopped'];

/** One deployment's progress: what `status.deployment` (cluster) and the data directory (local) hold. */
export const DeploymentStateSchema = z
  .object({
    id: z.string().max(64),
    strategy: z.string().max(128),
    /** The version that had all traffic when the deployment began; a rollback returns to it. */
    fromVersion: z.string().max(16),
    targetVersion: z.string().max(16),
    phase: z.enum(DEPLOYMENT_PHASES),
    /** Index into the strategy's steps of the last step applied; -1 before any traffic moved. */
    step: z.number().int().min(-1),
    /** The share of calls the target version gets now (0-1). */
    targetWeight: z.number().min(0).max(1),
    startedAt: z.string().meta({ format: 'date-time' }),
    /** When the current step's weight was applied (epoch ms); the next step is due a step interval later. */
    stepStartedAtMs: z.number().int().min(0).optional(),
    finishedAt: z.string().meta({ format: 'date-time' }).optional(),
    /** Why it rolled back, failed, stopped or is paused. */
    reason: z.string().max(1024).optional(),
    /** The deployment as it was asked for, so a restart needs nothing else to resume it. */
    spec: DeploymentSpecSchema.optional(),
  })
  .loose();

export const DeploymentStatusSchema = z
  .object({
    current: DeploymentStateSchema.optional(),
    /** The last finished deployments, newest first. */
    history: z.array(DeploymentStateSchema).max(10).optional(),
  })
  .loose();

export type RollbackSpec = z.infer<typeof RollbackSchema>;
export type DeploymentSpec = z.infer<typeof DeploymentSpecSchema>;
export type DeploymentState = z.infer<typeof DeploymentStateSchema>;
export type DeploymentStatus = z.infer<typeof DeploymentStatusSchema>;
