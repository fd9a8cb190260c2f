// Checks a function's code signature before any environment runs it: once per (code, signature, config),
// then from memory. Enforce refuses the invocation with CodeVerificationFailedException; Warn lets it run
// and logs why, once per code.
import type { CodeSigningConfig } from '../../../apis/code-signing.ts';
import { ApiError } from '../../../apis/errors.ts';
import type { FunctionDefinition } from '../registry/function-definition.ts';
import { type SignatureVerdict, verifyCode } from './signature.ts';

export class CodeSigningGate {
  private readonly configs = new Map<string, CodeSigningConfig>();
  private readonly verdicts = new Map<string, Promise<SignatureVerdict>>();
  private readonly warned = new Set<string>();
  private readonly log: (line: string) => void;

  constructor(configs: CodeSigningConfig[], log: (line: string) => void) {
    for (const c of configs) this.configs.set(`${c.metadata.namespace}/${c.metadata.name}`, c);
    this.log = log;
  }

  /** Undefined (nothing to wait for) for a function that does not opt in: the common case costs no await. */
  check(fn: FunctionDefinition): Promise<void> | undefined {
    if (!fn.spec.codeSigning) return undefined;
    return this.verify(fn);
  }

  private async verify(fn: FunctionDefinition): Promise<void> {
    const signing = fn.spec.codeSigning!;
    const config = this.configs.get(`${fn.namespace}/${signing.config}`);
    if (!config) {
      throw new ApiError(
        'CodeVerificationFailedException',
        `spec.codeSigning.config: no CodeSigningConfig ${fn.namespace}/${signing.config}`,
      );
    }
    const key = `${fn.namespace}/${signing.config}/${fn.codeSha256}/${signing.signature ?? ''}`;
    const now = Date.now();
    let verdict = this.verdicts.get(key);
    if (!verdict) {
      verdict = verifyCode(fn.codeSha256, signing.signature, config.spec, now);
      this.verdicts.set(key, verdict);
    }
    const outcome = await verdict;
    // A key that expired since: judge again (another trusted key may still vouch for the code).
    if (outcome.valid && outcome.until !== undefined && outcome.until < now) {
      this.verdicts.delete(key);
      return this.verify(fn);
    }
    if (outcome.valid) return;
    const message = `${fn.namespace}/${fn.name}: code sha256 ${fn.codeSha256}: ${outcome.reason}`;
    if (config.spec.policy === 'Enforce') throw new ApiError('CodeVerificationFailedException', message);
    if (!this.warned.has(key)) {
      this.warned.add(key);
      this.log(`warning: code signing (Warn): ${message}; running it anyway`);
    }
  }
}
