// What one more warm Node environment costs (environment-memory.ts), for several checkouts in one run, in
// turns, so a before/after comparison shares the machine's state: `node bench/environment-memory-ab.ts
// [rounds] [checkout...]` (this one when none is given). Prints one line per measurement and the load.
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { environmentMemory } from './environment-memory.ts';
import { ROOT } from './serval-process.ts';

const rounds = Number(process.argv[2] ?? 1);
const roots = process.argv.length > 3 ? process.argv.slice(3).map((r) => resolve(r)) : [ROOT];
const count = Number(process.env.BENCH_MEMORY_ENVIRONMENTS ?? 64);

async function post(url: string, body: string, agent: import('node:http').Agent) {
  const { request } = await import('node:http');
  return new Promise<{ status: number; text: string }>((done, fail) => {
    const req = request(url, { method: 'POST', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d)).on('end', () => done({ status: res.statusCode ?? 0, text }));
    });
    req.once('error', fail).end(body);
  });
}

const mb = (n: number) => n.toFixed(1).padStart(6);
console.log(`${count} environments; MB (10^6) private per environment; load before each run`);
for (let round = 0; round < rounds; round++)
  for (const root of roots) {
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    const m = await environmentMemory(
      resolve(root, 'test/fixtures/functions/node/echo-esm'),
      count,
      post,
      8,
      root,
    );
    console.log(
      `${root.padEnd(16)} envs ${m.environments} private ${mb(m.privateMb)} pss ${mb(m.pssMb)}` +
        ` node ${mb(m.agentPrivateMb)} sh ${mb(m.supervisorPrivateMb)} bwrap ${mb(m.wrapperPrivateMb)}` +
        ` gateway ${mb(m.gatewayPrivateMb)} unreadable ${m.unreadable} load ${load}`,
    );
  }
