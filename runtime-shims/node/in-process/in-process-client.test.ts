// The in-process client against a listener of our own: what the runtime's invoke loops see (the Runtime API's
// /next headers and limits) and what the environment is told.
import { describe, expect, it } from 'vitest';
import type { RuntimeOutcome } from '../../agent/runtime-api/server.ts';
import { StreamRelay } from '../../agent/stream-relay.ts';
import { type ClientListener, InProcessClient } from './in-process-client.ts';

function recording() {
  const events: string[] = [];
  const outcomes = new Map<string, RuntimeOutcome>();
  const relays = new Map<string, StreamRelay>();
  const listener: ClientListener = {
    initComplete: () => events.push('init-complete'),
    initError: (errorType) => events.push(`init-error ${errorType}`),
    outcome: (requestId, outcome) => outcomes.set(requestId, outcome),
    relayOf: (requestId) => relays.get(requestId),
    keepAlive: (alive) => events.push(alive ? 'alive' : 'not-alive'),
  };
  return { events, outcomes, relays, client: new InProcessClient(listener) };
}

const request = {
  requestId: 'r-1',
  invokedFunctionArn: 'arn:serval:lambda:local:default:function:f',
  traceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
  clientContext: '{"custom":{"k":"v"}}',
  tenantId: 'tenant-a',
};

describe('InProcessClient', () => {
  it('hands an invocation to the poller with the headers the Runtime API sends', async () => {
    const { client, events } = recording();
    const next = client.next();
    expect(events).toEqual(['init-complete', 'alive']);
    client.deliver(request, Buffer.from('{"a":1}'), 1_700_000_000_000);
    const invocation = await next;
    expect(events.at(-1)).toBe('not-alive');
    expect(invocation.body).toBe('{"a":1}');
    expect(invocation.headers).toMatchObject({
      'lambda-runtime-aws-request-id': 'r-1',
      'lambda-runtime-deadline-ms': '1700000000000',
      'lambda-runtime-invoked-function-arn': request.invokedFunctionArn,
      'lambda-runtime-trace-id': request.traceId,
      'lambda-runtime-client-context': request.clientContext,
      'lambda-runtime-aws-tenant-id': 'tenant-a',
      'content-type': 'application/json',
    });
  });

  it('takes one answer per handed-out id and refuses any other, as the API does', async () => {
    const { client, outcomes } = recording();
    client.deliver(request, Buffer.from('{}'), 0);
    await client.next();
    expect((await client.postResponse('r-1', '"ok"')).status).toBe(202);
    expect(outcomes.get('r-1')).toMatchObject({ kind: 'response', contentType: 'application/json' });
    expect(outcomes.get('r-1')?.body.toString()).toBe('"ok"');
    expect((await client.postResponse('r-1', '"again"')).status).toBe(400);
    expect((await client.postError('other', new Error('x'))).status).toBe(400);
    expect(outcomes.size).toBe(1);
  });

  it('an error becomes its type and JSON body; a response over 6 MiB + 100 is Function.ResponseSizeTooLarge', async () => {
    const { client, outcomes } = recording();
    client.deliver({ ...request, requestId: 'e' }, Buffer.from('{}'), 0);
    client.deliver({ ...request, requestId: 'big' }, Buffer.from('{}'), 0);
    await client.next();
    await client.next();
    await client.postError('e', new TypeError('bad'));
    expect(outcomes.get('e')).toMatchObject({ kind: 'error', errorType: 'TypeError' });
    expect(JSON.parse(outcomes.get('e')!.body.toString())).toMatchObject({ errorMessage: 'bad' });
    expect((await client.postResponse('big', `"${'x'.repeat(6 * 1024 * 1024 + 100)}"`)).status).toBe(413);
    expect(outcomes.get('big')).toMatchObject({ kind: 'error', errorType: 'Function.ResponseSizeTooLarge' });
  });

  it('streams into the relay and reports an error from the trailers', async () => {
    const { client, outcomes, relays } = recording();
    const sent: string[] = [];
    relays.set(
      's',
      new StreamRelay('s', (m, body) =>
        sent.push(body ? `${m.type} ${Buffer.concat(body as Uint8Array[]).toString()}` : m.type),
      ),
    );
    client.deliver({ ...request, requestId: 's' }, Buffer.from('{}'), 0);
    await client.next();
    const { request: upload, replied } = client.openResponseStream('s');
    upload.setHeader('Content-Type', 'text/plain');
    upload.write('part ');
    upload.addTrailers({
      'Lambda-Runtime-Function-Error-Type': 'Error',
      'Lambda-Runtime-Function-Error-Body': Buffer.from('{"errorMessage":"broke"}').toString('base64'),
    });
    upload.end();
    expect((await replied).status).toBe(202);
    expect(sent).toEqual(['stream-start', 'stream-chunk part ']);
    expect(outcomes.get('s')).toMatchObject({ kind: 'error', errorType: 'Error' });
    expect(outcomes.get('s')?.body.toString()).toBe('{"errorMessage":"broke"}');
  });
});
