// The cold start of a 128 MB function on the rig's real node (test/kubernetes/node/real-node.ts), with the
// init CPU boost (ADR-48) and without: A/B interleaved in one rig, the controller restarted with
// SERVAL_INIT_CPU_MILLICORES between rounds. Each sample is a new Function applied and invoked once: the
// wall time from the invoke to its answer (pod, agent, init, handler) and the Init Duration of its REPORT.
// `SERVAL_REAL_NODE=1 node bench/kubernetes-cold-start.ts` as root; BENCH_COLD_ROUNDS (3). Prints only (the
// numbers go to docs/kubernetes.md by hand, with the load).
import { loadavg } from 'node:os';
import { startController } from '../controller/controller.ts';
import type { RealNode } from '../test/kubernetes/node/real-node.ts';
import { functionManifest, type ServalRig, startServalRig } from '../test/kubernetes/rig.ts';

const NS = 'cold';
const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 3);
const HANDLER =
  "import { createHash } from 'node:crypto';\nexport const handler = async () => createHash('sha256').update('x').digest('hex');";

async function sample(rig: ServalRig<RealNode>, name: string) {
  await rig.kubectl(['apply', '-f', '-'], functionManifest(NS, name, HANDLER));
  await rig.until(`${name} Ready`, async () =>
    (await rig.json(['get', 'function', name, '-n', NS])).status?.conditions?.some(
      (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
    ),
  );
  const started = performance.now();
  const res = await fetch(`${rig.gateway.url}/2015-03-31/functions/${NS}:function:${name}/invocations`, {
    method: 'POST',
    body: '{}',
    headers: { 'X-Amz-Log-Type': 'Tail' },
  });
  await res.text();
  const wallMs = performance.now() - started;
  const tail = Buffer.from(res.headers.get('x-amz-log-result') ?? '', 'base64').toString('utf8');
  const initMs = Number(/Init Duration: ([\d.]+) ms/.exec(tail)?.[1] ?? Number.NaN);
  await rig.kubectl(['delete', 'function', name, '-n', NS, '--wait=true']);
  return { status: res.status, wallMs, initMs };
}

const rig = await startServalRig([NS], { realNode: true });
let controller = rig.controller;
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const boost of ['1000', '0']) {
      await controller.stop();
      const config = rig.controllerConfig(`bench-${round}-${boost}`);
      controller = await startController(
        rig.controllerKc,
        { ...config, initCpuMillicores: Number(boost) },
        () => undefined,
      );
      const s = await sample(rig, `cold-${round}-${boost === '0' ? 'off' : 'boost'}`);
      if (s.status !== 200) throw new Error(`invoke answered ${s.status}`);
      console.log(
        `round ${round} boost ${boost}m: ${Math.round(s.wallMs)} ms wall, Init Duration ${s.initMs} ms, load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
} finally {
  await controller.stop();
  await rig.stop();
}
