// What the local provider's deadline watch (ADR-57) costs the gateway: the CPU of one tick over `count`
// in-process environments' ledgers (real CallLedger files), idle and with one call each in flight.
// Run: node bench/deadline-watch-cost.ts [environments=64] [ticks=20000]
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnvironmentSpec } from '../apis/environment-link.ts';
import { DeadlineWatch } from '../gateway/src/providers/local/in-process-launch.ts';
import { CallLedger } from '../runtime-shims/node/in-process/call-ledger.ts';

const count = Number(process.argv[2] ?? 64);
const ticks = Number(process.argv[3] ?? 20000);
const dir = mkdtempSync(join(tmpdir(), 'serval-watch-cost-'));
const spec = { functionName: 'f', timeoutSeconds: 900, memoryMB: 128 } as unknown as EnvironmentSpec;
const watch = new DeadlineWatch();
const ledgers = Array.from({ length: count }, (_, i) => {
  const fd = openSync(join(dir, String(i)), 'w+');
  watch.watch(fd, 1, spec.timeoutSeconds, () => {
    throw new Error('nothing is late here');
  });
  return new CallLedger(fd, spec);
});
const tick = () => (watch as unknown as { tick(): void }).tick();
for (const busy of [false, true]) {
  if (busy)
    for (const [i, l] of ledgers.entries())
      l.enter({ requestId: `00000000-0000-0000-0000-${i}`, at: Date.now(), phase: 'invoke' });
  for (let i = 0; i < 1000; i++) tick();
  const before = process.cpuUsage();
  for (let i = 0; i < ticks; i++) tick();
  const used = process.cpuUsage(before);
  const perTick = (used.user + used.system) / ticks;
  console.log(
    `${count} environments, ${busy ? 'one call each in flight' : 'idle'}: ${perTick.toFixed(1)} µs CPU per tick ` +
      `(${(perTick / count).toFixed(2)} per environment), ${((perTick * 4) / 1000).toFixed(2)} ms per second at 4 ticks/s`,
  );
}
watch.close();
rmSync(dir, { recursive: true, force: true });
