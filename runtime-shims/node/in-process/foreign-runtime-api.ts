// AWS_LAMBDA_RUNTIME_API in an in-process environment (ADR-54): code and tools read it (to find the API, or
// to tell they run in Lambda), so it names a real Runtime API, the agent's own, on the address agent mode
// uses. The environment's runtime does not go through it (its client is in-process), so no invocation is
// ever delivered there: it answers as agent mode's API does to a handler calling it mid-invocation (a /next
// or an init error is an invalid state transition, a response is refused as for an unknown request id). Its
// server does not hold the event loop, which must still drain when a handler's work is done.
import { RuntimeApiServer } from '../../agent/runtime-api/server.ts';

export async function serveRuntimeApi(host: string, port: number): Promise<string> {
  const api = new RuntimeApiServer({
    initComplete: () => {},
    initError: () => {},
    delivered: () => 0,
    outcome: () => {},
    responseStream: () => {
      throw new Error('no invocation is delivered through this Runtime API');
    },
  });
  const bound = await api.listen(host, port);
  api.standIn();
  return `${host}:${bound}`;
}
