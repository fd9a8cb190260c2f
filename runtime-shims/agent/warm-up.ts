// A pre-warmed agent (ADR-50) runs one throwaway Runtime API exchange before it has a function: its first
// listen, /next, invocation and response are then not the function's first call. That first use loads
// Node's lazily loaded modules (cluster, for a listen) and compiles the functions on the path, which
// otherwise cost the cold start some milliseconds of CPU. Nothing of it stays: its server is closed.
import { type RuntimeApiListener, RuntimeApiServer, type RuntimeOutcome } from './runtime-api/server.ts';
import { StreamRelay } from './stream-relay.ts';

const WARM_UP_LIMIT_MS = 5000;
// Not an ES import of node:http, which loads undici (runtime-api/server.ts).
const { request } = process.getBuiltinModule('node:http');

export async function warmUp(host: string): Promise<void> {
  let answered!: () => void;
  const done = new Promise<void>((r) => {
    answered = r;
  });
  const listener: RuntimeApiListener = {
    initComplete: () => undefined,
    initError: () => undefined,
    delivered: () => Date.now() + 1000,
    outcome: (_id: string, _o: RuntimeOutcome) => answered(),
    responseStream: (id) => new StreamRelay(id, () => undefined),
  };
  const api = new RuntimeApiServer(listener);
  try {
    const port = await api.listen(host, 0);
    const call = (method: string, path: string, body?: string) =>
      new Promise<string>((resolve, reject) => {
        const req = request({ host, port, method, path: `/2018-06-01/runtime${path}` }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => {
            text += d;
          });
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end(body);
      });
    api.enqueue({ requestId: 'warm-up', invokedFunctionArn: 'arn:warm-up' }, Buffer.from('{}'));
    const exchange = (async () => {
      await call('GET', '/invocation/next');
      await call('POST', '/invocation/warm-up/response', '{}');
      await done;
    })().catch(() => undefined); // late too: after the bound the closed server fails it, harmlessly
    // Bounded: the function's configure waits behind it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exchange, new Promise((r) => (timer = setTimeout(r, WARM_UP_LIMIT_MS)))]);
    clearTimeout(timer);
  } finally {
    api.close();
  }
}
