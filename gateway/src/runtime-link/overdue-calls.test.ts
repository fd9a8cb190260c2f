// The gateway's backstop for calls no environment answers, over a real link: the agent's own WebSocket
// client (`ws`) on loopback plays an environment that reads its invocations and answers only when told.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  type AgentMessage,
  decodeFrame,
  encodeFrame,
  type GatewayMessage,
  type InvocationResult,
} from '../../../apis/environment-link.ts';
import { AgentConnection, EnvironmentLostError } from './agent-connection.ts';
import { acceptWebSocket } from './link-socket.ts';
import { EnvironmentOverdueError } from './overdue-calls.ts';

let server: Server | undefined;
const clients: WebSocket[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.terminate();
  server?.closeAllConnections();
  server?.close();
});

/** A gateway end with the given limits, and an environment end that collects the invocations sent to it. */
async function link(limits: { timeoutSeconds: number; initPhaseMs: number; graceMs: number }, capacity = 1) {
  let resolveConn!: (c: AgentConnection) => void;
  const connection = new Promise<AgentConnection>((r) => {
    resolveConn = r;
  });
  server = createServer();
  server.on('upgrade', (req, socket, head) => {
    if (acceptWebSocket(req, socket))
      resolveConn(new AgentConnection('env-1', socket, head, capacity, limits));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/link`);
  clients.push(client);
  const invoked: string[] = [];
  client.on('message', (data: Buffer) => {
    const { header } = decodeFrame<GatewayMessage>(data);
    if (header.type === 'invoke') invoked.push(header.invocation.requestId);
  });
  await once(client, 'open');
  const answer = (requestId: string) => {
    const result: InvocationResult = {
      requestId,
      outcome: 'success',
      durationMs: 1,
      billedDurationMs: 1,
      maxMemoryUsedMB: 1,
      logTail: '',
    };
    client.send(encodeFrame({ type: 'result', result } satisfies AgentMessage, Buffer.from('"ok"')));
  };
  return { conn: await connection, client, invoked, answer };
}

const invocation = (requestId: string) => ({
  requestId,
  invokedFunctionArn: 'arn:aws:lambda:local:0:function:f',
});

it('ends a link whose call is unanswered past its timeout and grace: Sandbox.Timedout material, link closed', async () => {
  const { conn, client } = await link({ timeoutSeconds: 1, initPhaseMs: 0, graceMs: 200 });
  const clientClosed = once(client, 'close');
  const gatewayClosed = new Promise<void>((r) => conn.onClose(r));
  const started = Date.now();
  const error = await conn.invoke(invocation('r-1'), Buffer.from('{}')).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EnvironmentOverdueError);
  const overdue = error as EnvironmentOverdueError;
  expect(overdue.timeoutSeconds).toBe(1);
  // Past timeout + grace, and within one sweep of it (generous: the machine may be loaded).
  expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
  expect(overdue.durationMs).toBeGreaterThanOrEqual(1200);
  expect(Date.now() - started).toBeLessThan(5000);
  await Promise.all([clientClosed, gatewayClosed]);
  expect(conn.closed).toBe(true);
});

it('leaves a call answered in time alone, and the link open', async () => {
  const { conn, invoked, answer } = await link({ timeoutSeconds: 1, initPhaseMs: 0, graceMs: 0 });
  const pending = conn.invoke(invocation('r-1'), Buffer.from('{}'));
  while (invoked.length === 0) await new Promise((r) => setTimeout(r, 5));
  setTimeout(() => answer('r-1'), 500);
  expect((await pending).result.outcome).toBe('success');
  // A sweep after the answer finds nothing to end.
  await new Promise((r) => setTimeout(r, 1500));
  expect(conn.closed).toBe(false);
});

it('gives a first call its init phase on top of the timeout, and a later call only the timeout', async () => {
  const { conn, invoked, answer } = await link({ timeoutSeconds: 1, initPhaseMs: 4000, graceMs: 0 });
  const first = conn.invoke(invocation('r-1'), Buffer.from('{}'));
  while (invoked.length === 0) await new Promise((r) => setTimeout(r, 5));
  setTimeout(() => answer('r-1'), 2000); // past the timeout, within the init phase
  expect((await first).result.outcome).toBe('success');
  const started = Date.now();
  const error = await conn.invoke(invocation('r-2'), Buffer.from('{}')).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EnvironmentOverdueError);
  // One timeout and at most a sweep (1 s), not the init phase again (which would be 5 s at least).
  expect(Date.now() - started).toBeLessThan(4000);
});

it('fails the calls beside an overdue one as lost: the environment goes with its link', async () => {
  const { conn, invoked } = await link({ timeoutSeconds: 1, initPhaseMs: 0, graceMs: 0 }, 2);
  const late = conn.invoke(invocation('r-1'), Buffer.from('{}')).catch((e: unknown) => e);
  while (invoked.length === 0) await new Promise((r) => setTimeout(r, 5));
  // Sent after the late call's deadline: it is not overdue itself before the late one is found (sweeps
  // are a second apart), so it can only be lost with the link.
  await new Promise((r) => setTimeout(r, 1100));
  const beside = conn.invoke(invocation('r-2'), Buffer.from('{}')).catch((e: unknown) => e);
  expect(await late).toBeInstanceOf(EnvironmentOverdueError);
  expect(await beside).toBeInstanceOf(EnvironmentLostError);
});
