// Code signing: a CodeSigningConfig names the public keys whose signatures a function's code may carry and
// what happens otherwise (Enforce refuses, Warn runs and warns). A function opts in with `spec.codeSigning`:
// the config's name and a detached compact JWS over its code's sha256 (docs/code-signing.md).
import { z } from 'zod';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `<protected header>..<signature>`: a compact JWS whose payload (the sha256, hex) is left out. */
export const DETACHED_JWS = /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/;

export const CodeSigningSchema = z
  .object({
    /** The CodeSigningConfig in the function's namespace. */
    config: z.string().regex(NAME).max(63),
    /** Made by `serval sign`; absent means unsigned (refused under Enforce). */
    signature: z
      .string()
      .max(8192)
      .regex(DETACHED_JWS, 'must be a detached compact JWS (header..signature)')
      .optional(),
  })
  .strict();

export const CodeSigningConfigSchema = z
  .object({
    apiVersion: z.literal('serval.dev/v1alpha1'),
    kind: z.literal('CodeSigningConfig'),
    metadata: z
      .object({ name: z.string().regex(NAME).max(63), namespace: z.string().max(63).default('default') })
      .loose(),
    spec: z
      .object({
        trustedKeys: z
          .array(
            z
              .object({
                /** An SPKI public key in PEM (ES256, ES384, EdDSA, RS256 or PS256 signatures). */
                publicKey: z.string().min(1).max(16_384),
                /** After this instant the key no longer vouches for code (revoke by removing the entry). */
                notAfter: z.iso.datetime().optional(),
              })
              .strict(),
          )
          .min(1)
          .max(20),
        policy: z.enum(['Enforce', 'Warn']).default('Enforce'),
      })
      .strict(),
  })
  .loose();

export type CodeSigning = z.infer<typeof CodeSigningSchema>;
export type CodeSigningConfig = z.infer<typeof CodeSigningConfigSchema>;
