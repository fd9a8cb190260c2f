// `spec.async` of a Function: Lambda's event-invoke config (reference §7.2) plus where results and dead
// letters go. Part of the one Function schema, so manifests, the API server and the types agree.
import { z } from 'zod';

/** Exactly one target: another function (invoked asynchronously), an HTTP endpoint (POST), a NATS subject. */
export const DestinationSchema = z
  .object({
    /** A name, `name:qualifier`, or a full or partial ARN; the namespace defaults to the invoking function's. */
    function: z.string().min(1).max(350).optional(),
    http: z
      .object({
        url: z.url({ protocol: /^https?$/ }),
        headers: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
    nats: z
      .object({ subject: z.string().regex(/^[^\s*>]+$/, 'must be a literal NATS subject (no wildcards)') })
      .strict()
      .optional(),
  })
  .strict()
  .refine((d) => [d.function, d.http, d.nats].filter((t) => t !== undefined).length === 1, {
    message: 'needs exactly one of function, http, nats',
  });

export const AsyncConfigSchema = z
  .object({
    maximumRetryAttempts: z.number().int().min(0).max(2).default(2),
    maximumEventAgeSeconds: z.number().int().min(60).max(21600).default(21600),
    destinations: z
      .object({ onSuccess: DestinationSchema.optional(), onFailure: DestinationSchema.optional() })
      .strict()
      .optional(),
    /**
     * Receives the original event with its error, as Lambda's DeadLetterConfig does (an HTTP endpoint or a
     * NATS subject stands in for SQS/SNS).
     */
    deadLetter: DestinationSchema.refine((d) => d.function === undefined, {
      message: 'must be http or nats (the original event with its error attributes)',
    }).optional(),
  })
  .strict();

export type Destination = z.infer<typeof DestinationSchema>;
export type AsyncConfig = z.infer<typeof AsyncConfigSchema>;

export const DEFAULT_ASYNC_CONFIG: AsyncConfig = { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21600 };
