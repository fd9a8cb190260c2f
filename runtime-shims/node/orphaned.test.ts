// When the agent dies under a running invocation, the runtime must end, not spin: its output pipe and
// its Runtime API are gone, so every write fails and there is nobody left to report to.
import { expect, it } from 'vitest';
import { delay, startRuntime } from './test-support/runtime-api-double.ts';

it('ends when its agent disappears mid-invocation (output pipe and Runtime API gone)', async () => {
  const { api, runtime } = await startRuntime('sleepy');
  void api.invoke({ event: { ms: 400 } }).catch(() => undefined);
  await delay(150);
  // The agent's end of the pipes closes and its Runtime API stops answering, as after SIGKILL.
  runtime.child.stdout!.destroy();
  runtime.child.stderr!.destroy();
  api.close();
  const outcome = await Promise.race([runtime.exited, delay(5000)]);
  runtime.kill();
  expect(outcome).not.toBe('timeout');
});
