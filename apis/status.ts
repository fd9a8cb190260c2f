// What the controller reports in `status` of each serval.dev kind. The known fields are typed (for printer
// columns and `kubectl explain`); unknown ones are kept, so a newer controller can add fields before the CRD.
import { z } from 'zod';
import { DeploymentStatusSchema } from './deployment.ts';
import { SOURCE_KINDS } from './event-source-mapping.ts';

/** metav1.Condition, with only `type` and `status` required so a partial write is never refused. */
export const ConditionSchema = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
      ),
    status: z.enum(['True', 'False', 'Unknown']),
    observedGeneration: z.number().int().min(0).optional(),
    lastTransitionTime: z.string().meta({ format: 'date-time' }).optional(),
    reason: z
      .string()
      .max(1024)
      .regex(/^([A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?)?$/)
      .optional(),
    message: z.string().max(32768).optional(),
  })
  .loose();

const conditions = z.array(ConditionSchema).max(32).optional();
const observedGeneration = z.number().int().min(0).optional();

/** One published version: an immutable snapshot of code and configuration (a ControllerRevision). */
export const PublishedVersionSchema = z
  .object({
    /** Lambda's version number, as a string ("1", "2", …) as in Lambda's API. */
    version: z.string().regex(/^[1-9][0-9]*$/),
    codeSha256: z.string().optional(),
    configHash: z.string().optional(),
    publishedAt: z.string().meta({ format: 'date-time' }).optional(),
    /** Name of the ControllerRevision holding the snapshot. */
    revision: z.string().optional(),
  })
  .loose();

export const FunctionStatusSchema = z
  .object({
    observedGeneration,
    conditions,
    latestVersion: z
      .string()
      .regex(/^[1-9][0-9]*$/)
      .optional(),
    versions: z.array(PublishedVersionSchema).optional(),
    /** The function URL, when `spec.url` is set. */
    url: z.string().optional(),
  })
  .loose();

/** GetProvisionedConcurrencyConfig's fields, as the gateway serves `spec.provisionedConcurrency` (ADR-51). */
export const ProvisionedConcurrencyStatusSchema = z
  .object({
    requested: z.number().int().min(0),
    allocated: z.number().int().min(0),
    available: z.number().int().min(0),
    /** Lambda's Status: IN_PROGRESS, READY or FAILED. */
    status: z.enum(['IN_PROGRESS', 'READY', 'FAILED']),
    statusReason: z.string().max(4096).optional(),
    lastModified: z.string().meta({ format: 'date-time' }).optional(),
  })
  .loose();

export const AliasStatusSchema = z
  .object({
    observedGeneration,
    conditions,
    /** The deployment in progress (`spec.deployment`) and the last finished ones. */
    deployment: DeploymentStatusSchema.optional(),
    /** The allocation of `spec.provisionedConcurrency`, written by the controller from the gateway's report. */
    provisionedConcurrency: ProvisionedConcurrencyStatusSchema.optional(),
  })
  .loose();

export const EventSourceMappingStatusSchema = z
  .object({
    observedGeneration,
    conditions,
    /** Which of `spec.source`'s kinds is set; the `Source` printer column shows it. */
    sourceKind: z.enum(SOURCE_KINDS).optional(),
    /** Lambda's State: Creating, Enabling, Enabled, Disabling, Disabled, Updating, Deleting. */
    state: z.string().max(32).optional(),
    stateTransitionReason: z.string().max(256).optional(),
    /** Lambda's LastProcessingResult: `No records processed`, `OK`, `PROBLEM: …`. */
    lastProcessingResult: z.string().max(1024).optional(),
    /** Schedules: when the mapping fires next (RFC 3339, UTC). */
    nextFireTimes: z.array(z.iso.datetime()).max(10).optional(),
  })
  .loose();

export type Condition = z.infer<typeof ConditionSchema>;
export type FunctionStatus = z.infer<typeof FunctionStatusSchema>;
export type AliasStatus = z.infer<typeof AliasStatusSchema>;
export type ProvisionedConcurrencyStatus = z.infer<typeof ProvisionedConcurrencyStatusSchema>;
export type EventSourceMappingStatus = z.infer<typeof EventSourceMappingStatusSchema>;
