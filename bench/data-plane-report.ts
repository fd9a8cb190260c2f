// The data-plane bench's section of docs/benchmarks.md: the side-by-side table, the headline ratios,
// and every target of issue #19 as met / not met. Numbers in, markdown out; nothing measured here.
import { cpus, loadavg } from 'node:os';
import type { EnvironmentMemory } from './environment-memory.ts';
import { RIE_VERSION, type WrkResult } from './load-tools.ts';
import { SERVERLESS_OFFLINE_VERSION, SERVERLESS_VERSION } from './serverless-offline.ts';

export const DATA_PLANE_HEADING = '## Data plane side by side';
/** Everything after this line in the section is hand-written and kept across runs. */
export const NOTES_MARKER =
  '<!-- data-plane bench: generated above, hand-written below (kept across runs) -->';

export const RIE = 'RIE + aws-lambda-ric';
export const SLS = 'serverless-offline';
/** Serval as it starts: a Node function's environment is one process, agent and runtime (ADR-52, ADR-54). */
export const SERVAL = 'Serval (in-process Node, the default)';
/** The same Serval with SERVAL_NODE_IN_PROCESS=off: the agent and the runtime as two processes. */
export const SERVAL_AGENT = 'Serval, agent mode (SERVAL_NODE_IN_PROCESS=off)';

export interface Row {
  system: string;
  concurrency: number;
  load: WrkResult;
  /** CPU µs per invocation by role, where the system has that role. */
  cpu: { front?: number; agent?: number; runtime?: number };
  /** Serval's environments (agents) at the end of the row: a start storm shows here (ADR-43). */
  environments?: number;
}

export interface CapResult {
  ok: number;
  throttled: number;
  other: number;
  otherKinds: string;
}

export interface Measured {
  rows: Row[];
  /** Cold start p50 in ms, by system; undefined where it could not be measured. */
  cold: { rie: number; serval: number; sls?: number | undefined };
  nodeStart: number;
  cap: CapResult;
  memory?: EnvironmentMemory | undefined;
  /** Why a part was left out (serverless-offline failed to install or start, say). */
  skipped: string[];
  startLoad: number[];
  settings: {
    seconds: number;
    coldSamples: number;
    cap: number;
    callers: number;
    memoryEnvironments: number;
  };
}

const f = (x: number | undefined, digits = 3) =>
  x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
const ms = (x: number) => (Number.isFinite(x) ? `${f(x)} ms` : 'n/a');
const us = (x: number | undefined) => (x === undefined ? '–' : f(x, 0));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? undefined : a / b;

export function report(m: Measured): string {
  const find = (system: string, c: number) => m.rows.find((x) => x.system === system && x.concurrency === c);
  const rie = find(RIE, 1);
  const sls1 = find(SLS, 1);
  const sls8 = find(SLS, 8);
  const s1 = find(SERVAL, 1)!;
  const s8 = find(SERVAL, 8)!;
  const s64 = find(SERVAL, 64)!;
  const { seconds, coldSamples, cap, callers, memoryEnvironments } = m.settings;
  const wrkShare = (x: Row) => `${f((100 * x.load.cpuSeconds) / (x.load.seconds * cpus().length), 0)} %`;
  const table = m.rows
    .map(
      (x) =>
        `| ${x.system} | ${x.concurrency} | ${f(x.load.rate, 0)}/s | ${ms(x.load.p50)} | ${ms(x.load.p99)} | ${x.load.failures} | ${us(x.cpu.front)} | ${us(x.cpu.agent)} | ${us(x.cpu.runtime)} | ${x.environments ?? '–'} | ${wrkShare(x)} |`,
    )
    .join('\n');

  // Serval's figure over the other system's, for the headline: below 1 is Serval faster (latency, cold).
  const headline = (
    name: string,
    serval: number | undefined,
    other: (system: string) => number | undefined,
    unit: string,
    digits: number,
  ) => {
    const cell = (x: number | undefined) => (x === undefined ? 'n/a' : `${f(x, digits)}${unit}`);
    const r = (system: string) => {
      const x = ratio(serval, other(system));
      return x === undefined ? 'n/a' : `${f(x, 2)}×`;
    };
    return `| ${name} | ${cell(serval)} | ${cell(other(RIE))} | ${r(RIE)} | ${cell(other(SLS))} | ${r(SLS)} |`;
  };
  const totalCpu = (x: Row | undefined) =>
    x && x.cpu.front !== undefined
      ? (x.cpu.front ?? 0) + (x.cpu.agent ?? 0) + (x.cpu.runtime ?? 0)
      : undefined;
  const headlines = [
    headline('warm p50, c=1', s1.load.p50, (s) => find(s, 1)?.load.p50, ' ms', 3),
    headline('warm p99, c=1', s1.load.p99, (s) => find(s, 1)?.load.p99, ' ms', 3),
    headline('invocations/s, c=1', s1.load.rate, (s) => find(s, 1)?.load.rate, '/s', 0),
    headline('invocations/s, c=8', s8.load.rate, (s) => find(s, 8)?.load.rate, '/s', 0),
    headline(
      'CPU µs per invocation (all processes), c=1',
      totalCpu(s1),
      (s) => totalCpu(find(s, 1)),
      ' µs',
      0,
    ),
    headline('cold start p50', m.cold.serval, (s) => (s === RIE ? m.cold.rie : m.cold.sls), ' ms', 1),
  ].join('\n');

  const target = (name: string, value: string, goal: string, met: boolean | undefined) =>
    `| ${name} | ${value} | ${goal} | ${met === undefined ? 'not measured' : met ? 'met' : 'not met'} |`;
  const versus = (
    name: string,
    serval: number,
    other: number | undefined,
    higherIsBetter: boolean,
    goal = higherIsBetter ? '≥ 1.00×' : '≤ 1.00×',
    limit = 1,
  ) => {
    const x = ratio(serval, other);
    const met = x === undefined ? undefined : higherIsBetter ? x >= limit : x <= limit;
    return target(name, x === undefined ? 'n/a' : `${f(x, 2)}×`, goal, met);
  };
  const mem = m.memory;
  // In-process, the environment is one process (its CPU in the runtime column): the agent target holds for it whole.
  const inProcess = s1.cpu.agent === undefined;
  const envCpu = (x: Row) => (inProcess ? x.cpu.runtime : x.cpu.agent);
  const agentWorst = Math.max(envCpu(s1) ?? Infinity, envCpu(s8) ?? Infinity);
  const targets = [
    versus('warm p50 vs RIE (c=1)', s1.load.p50, rie?.load.p50, false),
    versus('warm p99 vs RIE (c=1)', s1.load.p99, rie?.load.p99, false),
    versus('throughput vs RIE (c=1)', s1.load.rate, rie?.load.rate, true),
    target('throughput at c=8', `${f(s8.load.rate, 0)}/s`, '≥ 5,000/s', s8.load.rate >= 5000),
    target(
      'throughput c=64 / c=8',
      `${f(s64.load.rate / s8.load.rate, 2)}×`,
      '≥ 0.90×',
      s64.load.rate >= 0.9 * s8.load.rate,
    ),
    target('p99 at c=8', ms(s8.load.p99), '< 10 ms', s8.load.p99 < 10),
    target(
      `${callers} callers, cap ${cap}`,
      `${m.cap.ok} × 200, ${m.cap.throttled} × 429 TooManyRequestsException, ${m.cap.other} other${m.cap.otherKinds ? ` (${m.cap.otherKinds})` : ''}`,
      `${cap} × 200, the rest clean 429s`,
      m.cap.ok === cap && m.cap.throttled === callers - cap,
    ),
    target(
      inProcess
        ? 'environment CPU per invocation (agent and runtime in one process)'
        : 'agent CPU per invocation',
      `${us(envCpu(s1))} µs at c=1, ${us(envCpu(s8))} µs at c=8`,
      '< 100 µs',
      agentWorst < 100,
    ),
    target(
      `private memory per warm Node environment, ${memoryEnvironments} warm, agent included`,
      mem
        ? `${f(mem.privateMb, 1)} MB (agent ${f(mem.agentPrivateMb, 1)}, runtime ${f(mem.runtimePrivateMb, 1)}; PSS ${f(mem.pssMb, 1)} MB) over ${mem.environments} environments, ${mem.runtimes} runtimes`
        : 'n/a',
      '< 25 MB',
      // In-process environments (the default, ADR-54) have no runtime process of their own.
      mem &&
        mem.environments >= memoryEnvironments &&
        (mem.runtimes === 0 || mem.runtimes >= memoryEnvironments)
        ? mem.privateMb < 25
        : undefined,
    ),
    versus(
      `cold start vs RIE (${f(m.cold.serval, 1)} vs ${f(m.cold.rie, 1)} ms)`,
      m.cold.serval,
      m.cold.rie,
      false,
      '≤ 1.20×',
      1.2,
    ),
    versus('warm p50 vs serverless-offline (c=1)', s1.load.p50, sls1?.load.p50, false),
    versus('warm p99 vs serverless-offline (c=1)', s1.load.p99, sls1?.load.p99, false),
    versus('throughput vs serverless-offline (c=1)', s1.load.rate, sls1?.load.rate, true),
    versus('throughput vs serverless-offline (c=8)', s8.load.rate, sls8?.load.rate, true),
    versus(
      `cold start vs serverless-offline (${f(m.cold.serval, 1)} vs ${f(m.cold.sls, 1)} ms)`,
      m.cold.serval,
      m.cold.sls,
      false,
    ),
    ...agentModeTargets(),
  ].join('\n');

  // Agent mode's rows (custom runtimes, images and the official clients run so) against the same goals.
  function agentModeTargets(): string[] {
    const [i1, i8, i64] = [1, 8, 64].map((c) => find(SERVAL_AGENT, c));
    if (!i1 || !i8 || !i64) return [];
    const envWorst = Math.max(i1.cpu.agent ?? Infinity, i8.cpu.agent ?? Infinity);
    return [
      versus('agent mode: warm p50 vs RIE (c=1)', i1.load.p50, rie?.load.p50, false),
      versus('agent mode: warm p99 vs RIE (c=1)', i1.load.p99, rie?.load.p99, false),
      versus('agent mode: throughput vs RIE (c=1)', i1.load.rate, rie?.load.rate, true),
      target('agent mode: throughput at c=8', `${f(i8.load.rate, 0)}/s`, '≥ 5,000/s', i8.load.rate >= 5000),
      target(
        'agent mode: throughput c=64 / c=8',
        `${f(i64.load.rate / i8.load.rate, 2)}×`,
        '≥ 0.90×',
        i64.load.rate >= 0.9 * i8.load.rate,
      ),
      target('agent mode: p99 at c=8', ms(i8.load.p99), '< 10 ms', i8.load.p99 < 10),
      target(
        'agent mode: agent CPU per invocation',
        `${us(i1.cpu.agent)} µs at c=1, ${us(i8.cpu.agent)} µs at c=8`,
        '< 100 µs',
        envWorst < 100,
      ),
    ];
  }

  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const skipped = m.skipped.length ? `\n- Left out of this run: ${m.skipped.join('; ')}.` : '';
  const memoryLine = mem
    ? `Memory: a Serval of its own with ${memoryEnvironments} functions of the echo code, each called twice
(8 at a time), so that ${memoryEnvironments} environments each have a warm Node runtime (a runtime starts
on an environment's first call, and a burst against one fast function's pool is served by whichever
environments are free first, so some would never start one); ${mem.environments} agents and
${mem.runtimes} runtimes ran. Then Private_Clean + Private_Dirty (and PSS) from /proc/<pid>/smaps_rollup
of every process below the gateway (agents or in-process environments, their bwrap sandboxes and
supervisors, runtimes), summed and divided by
the environments${mem.unreadable ? ` (${mem.unreadable} processes unreadable)` : ''}. The gateway itself,
not counted: ${f(mem.gatewayPrivateMb, 0)} MB private.`
    : 'Memory: not measured in this run.';
  return `${DATA_PLANE_HEADING}

- Date: ${new Date().toISOString()}
- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}
- Load average (1 / 5 / 15 min): ${load(m.startLoad)} at the start, ${load(loadavg())} at the end.
- Method: wrk 1 thread, closed loop over keep-alive connections, ${seconds} s per row after a warm-up, POST
  \`{"a":1}\` to the same Node echo handler (test/fixtures/functions/node/echo-esm), on each system's
  Lambda Invoke path (\`POST /2015-03-31/functions/<name>/invocations\`). RIE is
  aws-lambda-runtime-interface-emulator ${RIE_VERSION} with the official aws-lambda-ric; it serves one
  call at a time, so it has a concurrency-1 row only. serverless-offline is serverless-offline
  ${SERVERLESS_OFFLINE_VERSION} under serverless ${SERVERLESS_VERSION} (installed by the bench into
  ~/.cache/serval), driven on its Lambda Invoke endpoint (its \`lambdaPort\`), not an HTTP event; it runs
  handlers in worker threads of its own process, so all its CPU is in the "front" column.${skipped}
- CPU columns are µs of CPU per invocation from /proc/<pid>/stat: "front" is the process that takes the
  HTTP call (Serval's gateway; RIE itself; serverless-offline's one process), "agent" Serval's
  in-environment agents, "runtime" the Node runtime processes (in-process, the environment's one process).
  "environments" counts Serval's environments (agents or in-process environments) at
  the end of the row, the cold-start functions' idle ones included (one each). "wrk CPU" is wrk's share
  of the machine's CPU during the row.

| System | Concurrency | Invocations/s | p50 | p99 | failed | front µs | agent µs | runtime µs | environments | wrk CPU |
|---|---|---|---|---|---|---|---|---|---|---|
${table}

Floors: process start (\`node -e 0\`, p50 of ${coldSamples}) ${f(m.nodeStart, 1)} ms. Cold start, p50 of
${coldSamples}: Serval and serverless-offline the first call of a new function in a running server, RIE +
aws-lambda-ric the first call after a fresh emulator and client start (it serves one function).
${memoryLine}

Headline, Serval against each (ratio = Serval / other: below 1.00× Serval is faster for latency, CPU and
cold start; above 1.00× it does more per second):

| Measure | Serval | ${RIE} | ratio | ${SLS} | ratio |
|---|---|---|---|---|---|
${headlines}

Targets of issue #19 (against serverless-offline the issue names no number; the bench holds Serval to
"no slower"):

| Target | Measured | Goal | |
|---|---|---|---|
${targets}
`;
}
