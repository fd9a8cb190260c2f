// The serval.dev/v1alpha1 Alias schema: a name for a function version, optionally sharing traffic with one more.
import { z } from 'zod';
import { DeploymentSpecSchema } from './deployment.ts';
import { API_VERSION } from './function.ts';

const VERSION = /^(\$LATEST|[1-9][0-9]*)$/;

/** Alias names are Lambda's, minus anything that reads as a version. */
export const ALIAS_NAME = /^(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}$/;

export const AliasSpecSchema = z
  .object({
    /**
     * The name callers use (`function:name`). Defaults to metadata.name; set it when two functions in one
     * namespace each want an alias of the same name (`live`), since object names are unique per namespace.
     */
    name: z.string().regex(ALIAS_NAME, 'must be 1-128 of [a-zA-Z0-9-_] and not a number').optional(),
    functionName: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      .max(64),
    /** A version number or $LATEST — never another alias. */
    functionVersion: z
      .string()
      .regex(VERSION, 'must be a version number or $LATEST (an alias cannot point to an alias)'),
    description: z.string().max(256).optional(),
    routingConfig: z
      .object({
        additionalVersionWeights: z
          .record(
            z.string().regex(/^[1-9][0-9]*$/, 'must be a published version number'),
            z.number().min(0).max(1),
          )
          .refine((w) => Object.keys(w).length <= 1, 'at most one additional version'),
      })
      .strict()
      .optional(),
    /**
     * Environments kept initialised ahead for calls through this alias (PutProvisionedConcurrencyConfig;
     * docs/provisioned-concurrency.md). Needs a published functionVersion. In a cluster the gateway keeps
     * that many pods initialised, and status.provisionedConcurrency tells their allocation.
     */
    provisionedConcurrency: z.number().int().min(1).optional(),
    /** Shift the alias's traffic to `targetVersion` on a CodeDeploy schedule (docs/deployments.md). */
    deployment: DeploymentSpecSchema.optional(),
  })
  .strict()
  .refine((s) => !s.routingConfig || !(s.functionVersion in s.routingConfig.additionalVersionWeights), {
    path: ['routingConfig', 'additionalVersionWeights'],
    message: 'the additional version must differ from functionVersion',
  })
  .refine((s) => s.provisionedConcurrency === undefined || s.functionVersion !== '$LATEST', {
    path: ['provisionedConcurrency'],
    message: 'provisioned concurrency needs a published functionVersion, not $LATEST',
  })
  .refine(
    (s) =>
      !s.routingConfig ||
      Object.keys(s.routingConfig.additionalVersionWeights).length === 0 ||
      s.functionVersion !== '$LATEST',
    {
      path: ['functionVersion'],
      message: 'weighted routing needs a published primary version, not $LATEST',
    },
  );

export const AliasSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Alias'),
    metadata: z
      .object({
        name: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
          .max(63),
        namespace: z.string().max(63).default('default'),
      })
      .loose(),
    spec: AliasSpecSchema,
  })
  .loose();

export type AliasResource = z.infer<typeof AliasSchema>;
export type AliasSpec = z.infer<typeof AliasSpecSchema>;
