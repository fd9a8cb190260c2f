// `serval sign`: the detached signature a function's `spec.codeSigning.signature` carries, over its code's
// sha256 exactly as Serval fingerprints it (docs/code-signing.md).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { signCode } from '../gateway/src/code-signing/signature.ts';
import { hashDirectory, hashInline } from '../gateway/src/registry/code.ts';

export class SignInputError extends Error {}

interface FunctionDoc {
  kind?: string;
  metadata?: { name?: string };
  spec?: { code?: { inline?: Record<string, string>; path?: string } };
}

/** The sha256 of the one Function in the manifest (or the one named), as the gateway computes it. */
export function codeSha256Of(manifest: string, name: string | undefined): string {
  const docs = parseAllDocuments(readFileSync(manifest, 'utf8')).map((d) => d.toJS() as FunctionDoc | null);
  const functions = docs.filter((d) => d?.kind === 'Function' && (!name || d.metadata?.name === name));
  if (functions.length !== 1) {
    throw new SignInputError(
      functions.length === 0
        ? `no Function${name ? ` named ${name}` : ''} in ${manifest}`
        : `${manifest} has ${functions.length} Functions; name one with --function`,
    );
  }
  const code = functions[0]!.spec?.code;
  if (code?.inline) return hashInline(code.inline);
  if (code?.path) return hashDirectory(resolve(dirname(manifest), code.path));
  throw new SignInputError('only code.inline and code.path can be signed here; pass --sha256 for other code');
}

export async function sign(
  options: { manifest?: string; functionName?: string; sha256?: string; keyFile: string },
  out: (line: string) => void,
): Promise<void> {
  const sha256 =
    options.sha256 ?? (options.manifest ? codeSha256Of(options.manifest, options.functionName) : undefined);
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256))
    throw new SignInputError('give a manifest, or --sha256 with the code sha256 in hex (64 characters)');
  let key: string;
  try {
    key = readFileSync(options.keyFile, 'utf8');
  } catch {
    throw new SignInputError(`cannot read the private key ${options.keyFile}`);
  }
  out(
    await signCode(sha256, key).catch((err) => {
      throw new SignInputError(
        `cannot sign with ${options.keyFile}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }),
  );
}
