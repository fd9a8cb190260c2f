// The bounded fuzz run CI does on every surface (issue #11): Invoke API, function URLs, ALB, control and
// operator APIs, the internal listener, the metrics listener, raw bytes on the front door, and the agent's
// Runtime API. Fixed seed, one time budget for all (SERVAL_FUZZ_BUDGET_MS, default 60 s; `npm run fuzz`
// runs longer). Fails on a gateway or agent crash, a 5xx a surface does not document, a leak, or a hang.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { type GatewayProcess, startGatewayProcess } from '../support/gateway-process.ts';
import { fixture, inlineNode } from '../support/serval.ts';
import {
  body,
  commonHeaders,
  functionName,
  functionResponse,
  headerValue,
  method,
  nasty,
  request,
  segment,
  target,
} from './arbitraries.ts';
import { type FuzzAnswer, type FuzzRequest, judge, send, serialise, type Verdict } from './oracle.ts';
import { PROBER } from './prober.ts';

const SEED = Number(process.env.SERVAL_FUZZ_SEED ?? 11);
const BUDGET_MS = Number(process.env.SERVAL_FUZZ_BUDGET_MS ?? 60_000);
const SURFACES = 9;
const PER_SURFACE_MS = Math.floor(BUDGET_MS / SURFACES);

let gw: GatewayProcess;
beforeAll(async () => {
  gw = await startGatewayProcess({
    // Accepting events is the surface under test; running them would only load the machine.
    env: { SERVAL_ASYNC_CONCURRENCY: '0' },
    functions: [
      inlineNode('echo', 'export const handler = async () => ({ ok: true });'),
      {
        name: 'url-respond',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'url-respond'),
        spec: { url: {} },
      },
      {
        name: 'alb-respond',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'alb-respond'),
        spec: { alb: { rules: [{ pathPrefix: '/respond', priority: 1 }] } },
      },
      {
        name: 'multi-respond',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'alb-respond'),
        spec: { alb: { rules: [{ pathPrefix: '/multi', priority: 2 }], multiValueHeaders: true } },
      },
      inlineNode('prober', PROBER, { timeoutSeconds: 120 }),
    ],
  });
  // Cold starts are not what is measured: each function gets its environment before the clock runs.
  for (const name of ['echo', 'url-respond', 'alb-respond', 'multi-respond', 'prober']) {
    await fetch(`${gw.url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: '{"raw":[]}' });
  }
});
afterAll(() => gw.stop());

/** Runs the property for this surface's share of the budget; returns how many cases ran. */
async function fuzz<T>(arb: fc.Arbitrary<T>, check: (value: T) => Promise<void>): Promise<number> {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(arb, async (value) => {
      runs++;
      await check(value);
    }),
    {
      seed: SEED,
      numRuns: 1_000_000,
      interruptAfterTimeLimit: PER_SURFACE_MS,
      markInterruptAsFailure: false,
      endOnFailure: true,
    },
  );
  return runs;
}

function verdictFor(r: FuzzRequest, answer: FuzzAnswer | 'hang', verdict?: Verdict): void {
  const problem = judge(answer, verdict);
  const crashed = gw.exited();
  const shown = { ...r, body: r.body.subarray(0, 200).toString('latin1') };
  if (crashed !== undefined)
    throw new Error(
      `the gateway exited (${crashed}) after ${JSON.stringify(shown)}\n${gw.stderr().slice(-2000)}`,
    );
  if (problem) throw new Error(`${problem}\nrequest: ${JSON.stringify(shown)}`);
}

async function exercise(
  base: () => string,
  arb: fc.Arbitrary<FuzzRequest>,
  verdict: Verdict | ((r: FuzzRequest) => Verdict) = {},
): Promise<number> {
  return fuzz(arb, async (r) =>
    verdictFor(r, await send(base(), serialise(r)), typeof verdict === 'function' ? verdict(r) : verdict),
  );
}

/** Function URLs and ALB: 502 is documented, and a 5xx the function itself chose is its answer. */
function httpSurfaceVerdict(r: FuzzRequest): Verdict {
  let chosen: unknown;
  try {
    chosen = (JSON.parse(r.body.toString('utf8')) as { ret?: { statusCode?: unknown } }).ret?.statusCode;
  } catch {}
  const own = typeof chosen === 'number' || typeof chosen === 'string' ? [Number(chosen)] : [];
  return { allowed5xx: [502, ...own] };
}

/** Function URLs and ALB rules: the body tells the function which (often invalid) answer to give. */
function exerciseFunctionAnswers(path: fc.Arbitrary<string>): Promise<number> {
  const b = fc.oneof(
    { weight: 4, arbitrary: functionResponse().map((ret) => Buffer.from(JSON.stringify({ ret }))) },
    { weight: 1, arbitrary: body() },
  );
  return exercise(
    () => gw.url,
    request(method('POST'), target(path), commonHeaders(), b),
    httpSurfaceVerdict,
  );
}

const MIN_RUNS = 10;
const timeout = PER_SURFACE_MS + 60_000;

describe('fuzz', () => {
  it('the Invoke API', { timeout }, async () => {
    const t = target(
      fc.oneof(
        functionName().map((n) => `/2015-03-31/functions/${n}/invocations`),
        functionName().map((n) => `/2014-11-13/functions/${n}/invoke-async/`),
      ),
    );
    const headers = fc
      .tuple(
        commonHeaders(),
        fc.option(fc.constantFrom('RequestResponse', 'Event', 'DryRun', 'event', 'x'), { nil: undefined }),
        fc.option(
          fc.oneof(
            fc.base64String({ maxLength: 60 }),
            fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '').toString('base64')),
            headerValue(),
          ),
          { nil: undefined },
        ),
        fc.option(fc.constantFrom('Tail', 'None', 'x'), { nil: undefined }),
      )
      .map(([h, type, context, log]) => {
        const out = [...h];
        if (type) out.push(['X-Amz-Invocation-Type', type]);
        if (context !== undefined) out.push(['X-Amz-Client-Context', context]);
        if (log) out.push(['X-Amz-Log-Type', log]);
        return out;
      });
    const runs = await exercise(() => gw.url, request(method('POST'), t, headers), {
      functionErrorIsPayload: true,
    });
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
  });

  it('function URLs', { timeout }, async () => {
    const id = functionUrlId('default', 'url-respond', '$LATEST');
    const runs = await exerciseFunctionAnswers(
      fc.oneof(
        fc.constant(`/lambda-url/${id}/`),
        nasty(10).map((p) => `/lambda-url/${id}/${p}`),
        segment([id]).map((s) => `/lambda-url/${s}/`),
      ),
    );
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
  });

  it('ALB rules', { timeout }, async () => {
    const runs = await exerciseFunctionAnswers(
      fc.oneof(
        fc.constantFrom('/respond', '/multi'),
        nasty(8).map((p) => `/respond/${p}`),
      ),
    );
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
  });

  it('the control API', { timeout }, async () => {
    const t = target(
      fc
        .tuple(functionName(), segment(['versions', 'aliases', 'aliases/live', 'aliases/x', 'policy']))
        .map(([n, rest]) => `/2015-03-31/functions/${n}/${rest}`),
    );
    const aliasBody = fc
      .record(
        {
          Name: fc.oneof(fc.constantFrom('live', 'x'), nasty(6)),
          FunctionVersion: fc.oneof(fc.constantFrom('$LATEST', '1'), nasty(4)),
          Description: headerValue(),
          RoutingConfig: fc.jsonValue(),
        },
        { requiredKeys: [] },
      )
      .map((o) => Buffer.from(JSON.stringify(o)));
    const runs = await exercise(
      () => gw.url,
      request(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        t,
        commonHeaders(),
        fc.oneof(aliasBody, body()),
      ),
    );
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
  });

  it('the operator API', { timeout }, async () => {
    const t = fc.oneof(
      target(
        segment(['stats', 'dead-letters', 'dead-letters/redrive', 'dead-letters/purge']).map(
          (s) => `/serval/v1/async/${s}`,
        ),
      ),
      target(
        fc
          .oneof(
            fc.constant(''),
            segment(['AKSVNOBODYNOBODY0000']).map((s) => `/${s}`),
          )
          .map((s) => `/serval/v1/access-keys${s}`),
      ),
    );
    const newKey = fc
      .record(
        {
          identity: fc.oneof(fc.constant('ci'), nasty(6), fc.integer()),
          namespace: fc.oneof(fc.constant('default'), nasty(4)),
          groups: fc.oneof(fc.array(nasty(4)), nasty(6)),
          description: nasty(8),
        },
        { requiredKeys: [] },
      )
      .map((o) => Buffer.from(JSON.stringify(o)));
    const filter = fc
      .record(
        {
          function: fc.oneof(fc.constant('echo'), nasty(6), fc.integer()),
          namespace: nasty(4),
          ids: fc.oneof(fc.array(nasty(4)), nasty(6)),
          limit: fc.oneof(fc.integer(), nasty(3)),
        },
        { requiredKeys: [] },
      )
      .map((o) => Buffer.from(JSON.stringify(o)));
    const runs = await exercise(
      () => gw.url,
      request(fc.constantFrom('GET', 'POST', 'DELETE'), t, commonHeaders(), fc.oneof(filter, newKey, body())),
    );
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
  });

  it('the internal (environment link) listener', { timeout }, async () => {
    const t = target(
      fc.oneof(
        nasty(12).map((p) => `/${p}`),
        segment(['healthz', 'serval/internal/v1/environments', 'agent/v1/environments/x/link']).map(
          (s) => `/${s}`,
        ),
        fc.constantFrom('//', '//%FF', '*'),
      ),
    );
    const headers = fc.tuple(commonHeaders(), fc.boolean(), headerValue()).map(([h, upgrade, auth]) => {
      const out: Array<[string, string]> = [...h, ['Authorization', `Bearer ${auth}`]];
      if (upgrade)
        out.push(
          ['Upgrade', 'websocket'],
          ['Sec-WebSocket-Version', '13'],
          ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
        );
      return out;
    });
    const runs = await exercise(() => gw.internalUrl, request(method('GET'), t, headers));
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
  });

  it('the metrics listener', { timeout }, async () => {
    const t = target(
      fc.oneof(
        fc.constant('/metrics'),
        nasty(10).map((p) => `/${p}`),
      ),
    );
    const runs = await exercise(() => gw.metricsUrl, request(method('GET'), t));
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
  });

  it('raw bytes on the front door', { timeout }, async () => {
    const garbage = fc.oneof(
      // Leading blank lines are allowed before a request line (RFC 9112 §2.2): the server rightly waits on.
      fc
        .uint8Array({ minLength: 1, maxLength: 200 })
        .filter((a) => a[0] !== 0x0d && a[0] !== 0x0a)
        .map((a) => Buffer.concat([Buffer.from(a), Buffer.from('\r\n\r\n')])),
      fc
        .tuple(
          fc.constantFrom('GET', 'POST', 'G\u00ffT', ''),
          nasty(10),
          fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2', 'HTTP/1.1\u0000', ''),
          fc.array(headerValue(), { maxLength: 3 }),
        )
        .map(([m, p, v, hs]) =>
          Buffer.from(`${m} /${p} ${v}\r\n${hs.map((h) => `X${h}: ${h}`).join('\r\n')}\r\n\r\n`, 'latin1'),
        ),
    );
    const runs = await fuzz(garbage, async (bytes) => {
      const answer = await send(gw.url, bytes);
      const r = { method: '(raw)', target: '', headers: [], body: bytes };
      // A request Node cannot parse may also be answered by closing the connection.
      if (answer !== 'hang' && answer.status === 0 && answer.head === '')
        return verdictFor(r, { status: 400, head: 'x', body: '' });
      verdictFor(r, answer);
    });
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
  });

  it("the agent's Runtime API, from inside an invocation", { timeout }, async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const t = target(
      fc
        .array(
          segment(['2018-06-01', 'runtime', 'invocation', 'next', 'response', 'error', 'init', id, 'ping']),
          { minLength: 1, maxLength: 5 },
        )
        .map((parts) => `/${parts.join('/')}`),
    );
    const headers = fc
      .tuple(
        commonHeaders(),
        fc.option(headerValue(), { nil: undefined }),
        fc.option(headerValue(), { nil: undefined }),
      )
      .map(([h, mode, type]) => {
        const out = [...h];
        if (mode !== undefined) out.push(['Lambda-Runtime-Function-Response-Mode', mode]);
        if (type !== undefined) out.push(['Lambda-Runtime-Function-Error-Type', type]);
        return out;
      });
    const batch = fc.array(request(fc.constantFrom('GET', 'POST', 'PUT'), t, headers), {
      minLength: 1,
      maxLength: 8,
    });
    const runs = await fuzz(batch, async (requests) => {
      const payload = JSON.stringify({ raw: requests.map((r) => serialise(r).toString('base64')) });
      const res = await fetch(`${gw.url}/2015-03-31/functions/prober/invocations`, {
        method: 'POST',
        body: payload,
      });
      const text = await res.text();
      const crashed = gw.exited();
      if (crashed !== undefined) throw new Error(`the gateway exited (${crashed})`);
      if (res.status !== 200 || res.headers.get('x-amz-function-error')) {
        throw new Error(
          `the prober's invocation failed (${res.status}): ${text}\nrequests: ${JSON.stringify(requests.map((r) => ({ ...r, body: r.body.toString('latin1').slice(0, 100) })))}`,
        );
      }
      const answers = JSON.parse(text) as Array<{ closed: boolean; text: string }>;
      answers.forEach((a, i) => {
        const split = a.text.indexOf('\r\n\r\n');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(a.text)?.[1] ?? 0);
        const answer: FuzzAnswer | 'hang' = a.closed
          ? {
              status,
              head: split < 0 ? a.text : a.text.slice(0, split),
              body: split < 0 ? '' : a.text.slice(split + 4),
            }
          : 'hang';
        // The agent, like Node, may close on a request it cannot parse.
        if (answer !== 'hang' && status === 0 && answer.head === '') return;
        verdictFor(requests[i]!, answer);
      });
    });
    expect(runs).toBeGreaterThanOrEqual(3);
  });
});
