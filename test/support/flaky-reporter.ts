// Lists the tests that passed only on a retry, so CI's retries (vitest.config.ts) never hide a flake:
// each one is printed at the end of the run with how many attempts it took.
import type { Reporter, TestCase } from 'vitest/node';

export default class FlakyReporter implements Reporter {
  private readonly flaky: string[] = [];

  onTestCaseResult(test: TestCase): void {
    const d = test.diagnostic();
    if (d?.flaky)
      this.flaky.push(`${test.module.moduleId} > ${test.fullName} (passed on attempt ${d.retryCount + 1})`);
  }

  onTestRunEnd(): void {
    if (this.flaky.length === 0) return;
    process.stdout.write(`\nFlaky: ${this.flaky.length} test(s) passed only on a retry:\n`);
    for (const line of this.flaky) process.stdout.write(`  ${line}\n`);
  }
}
