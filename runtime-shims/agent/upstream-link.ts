// The agent's side of the link to the gateway: authenticates, receives its spec, serves invocations one at a
// time, or several at once in a multi-concurrency environment.
import { Socket } from 'node:net';
import WebSocket from 'ws';
import {
  type AgentMessage,
  decodeFrame,
  type EnvironmentSpec,
  encodeFrame,
  type GatewayMessage,
  type InvocationRequest,
  type InvocationResult,
} from '../../apis/environment-link.ts';
import type { AgentConfig } from './config.ts';
import { untilCpuAtMost } from './cpu-after-init.ts';
import { Environment } from './environment.ts';
import { writeLinkFrame } from './link-frame-writer.ts';
import { PrestartedRuntime } from './prestarted-runtime.ts';
import { type LinkBody, StreamRelay } from './stream-relay.ts';
import { warmUp } from './warm-up.ts';

/** What the link needs of an environment: the agent's (a runtime process behind the Runtime API) or in-process. */
export interface LinkedEnvironment {
  /** Runs invocations side by side (multi-concurrency). */
  readonly concurrent: boolean;
  readonly isInitialised: boolean;
  start(): Promise<void>;
  /** Provisioned concurrency: init now; resolves with why it failed, or undefined. */
  initAhead(): Promise<string | undefined>;
  invoke(
    request: InvocationRequest,
    body: Buffer,
    relay: StreamRelay,
  ): Promise<{ result: InvocationResult; body: Buffer }>;
  stop(): void;
}

export interface EnvironmentContext {
  spec: EnvironmentSpec;
  config: AgentConfig;
  sink: (line: string) => void;
  /** The environment cannot serve again: the link closes after the result in flight. */
  ended: () => void;
  afterFirstInit: (() => Promise<void>) | undefined;
  /** The local link's socket (none over TCP): an in-process environment refs and unrefs it. */
  wire: () => Socket | undefined;
  /** A pre-warmed agent's runtime, started before its function was known (ADR-50). */
  prestarted?: PrestartedRuntime | undefined;
}

export type EnvironmentFactory = (context: EnvironmentContext) => LinkedEnvironment;

const agentEnvironment: EnvironmentFactory = (c) =>
  new Environment(c.spec, c.config, c.sink, c.ended, c.afterFirstInit, c.prestarted);

export interface UpstreamLink {
  /** Resolves when the link closes; the runtime has been stopped by then. */
  closed: Promise<void>;
  stop(): void;
}

/** The link's close code when a provisioned environment's init failed (4000-4999: application codes). */
const CLOSE_INIT_FAILED = 4001;
/** A WebSocket close reason holds at most 123 bytes of UTF-8. */
const CLOSE_REASON_BYTES = 123;

function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason) > CLOSE_REASON_BYTES) reason = reason.slice(0, -1);
  return reason;
}

/** With an init CPU boost: report the init done, then wait (bounded) for the controller's resize. */
function afterInit(config: AgentConfig, send: (message: AgentMessage) => void) {
  const share = config.cpuAfterInitMillicores;
  if (share === undefined) return undefined;
  return async () => {
    send({ type: 'initialised' });
    if (!(await untilCpuAtMost(share)))
      process.stderr.write(`serval-agent: the CPU limit is still above ${share}m after the init\n`);
  };
}

export function connectUpstream(
  config: AgentConfig,
  sink: (line: string) => void,
  createEnvironment: EnvironmentFactory = agentEnvironment,
  /** The link's socket already open (an in-process environment receives it over IPC, ADR-54). */
  linkSocket?: Socket,
): UpstreamLink {
  const { linkFd } = config;
  /** The local link's socket, where streamed chunks are written as frames of our own (none over TCP). */
  let wire: Socket | undefined;
  const socket = new WebSocket(config.linkUrl, {
    headers: { Authorization: `Bearer ${config.token}` },
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
    // An all-zero mask, which ws sends without masking and the gateway's ws reads without unmasking:
    // masking every byte in JS was half the agent's CPU on a streamed response (ADR-38).
    generateMask: (mask: Buffer) => mask.fill(0),
    // The same handshake and frames over the socket the provider passed in, where there is one.
    ...((linkSocket || linkFd !== undefined) && {
      createConnection: () => {
        wire = linkSocket ?? new Socket({ fd: linkFd, readable: true, writable: true });
        return wire;
      },
    }),
  });
  // A pre-warmed environment's runtime starts before its link is even accepted (ADR-50): the handshake
  // below waits, unanswered, until the gateway gives this environment a function.
  let prestarted =
    config.prewarm &&
    PrestartedRuntime.start(config, config.prewarm, `${config.runtimeApiHost}:${config.runtimeApiPort}`);
  let environment: LinkedEnvironment | undefined;
  let provisioned = false;
  // A pre-warmed agent's first messages wait for its throwaway exchange, which cannot fail the environment.
  let queue = config.prewarm ? warmUp(config.runtimeApiHost).catch(() => undefined) : Promise.resolve();
  /** Streamed responses under way, by request id: credit and cancel for one must not queue behind its invoke. */
  const relays = new Map<string, StreamRelay>();
  const send = (message: AgentMessage, body?: LinkBody) => {
    if (body === undefined || body instanceof Uint8Array || body.length === 0)
      return socket.send(encodeFrame(message, body));
    // A streamed chunk's parts (the runtime's upload as it was read) are never joined into a fresh buffer
    // (ADR-49). On a local link they go out as one frame of our own in one writev (ADR-53); over TCP as the
    // fragments of one `ws` message, which the gateway reads as one payload.
    if (wire) {
      if (socket.readyState === WebSocket.OPEN) writeLinkFrame(wire, encodeFrame(message), body);
      return;
    }
    socket.send(encodeFrame(message), { fin: false });
    for (const [i, part] of body.entries()) socket.send(part, { fin: i === body.length - 1 });
  };
  /** A chunk lent by the Runtime API's read buffer: written as it is on a local link, copied over TCP. */
  const sendLent = (message: AgentMessage, parts: readonly Buffer[]) => {
    if (!wire) return void send(message, [Buffer.concat(parts)]);
    if (socket.readyState !== WebSocket.OPEN) return undefined;
    return writeLinkFrame(wire, encodeFrame(message), parts);
  };
  const fail = (err: unknown) => {
    process.stderr.write(`serval-agent: ${String(err)}\n`);
    socket.close(1011, 'agent failure');
  };
  const invoke = async (invocation: InvocationRequest, body: Buffer) => {
    if (!environment) throw new Error('invoke before configure');
    const relay = new StreamRelay(invocation.requestId, send, sendLent);
    relays.set(invocation.requestId, relay);
    try {
      const outcome = await environment.invoke(invocation, body, relay);
      send({ type: 'result', result: outcome.result }, outcome.body);
    } finally {
      relays.delete(invocation.requestId);
    }
  };

  socket.on('message', (data: Buffer) => {
    const { header, body } = decodeFrame<GatewayMessage>(data);
    if (header.type === 'stream-credit' || header.type === 'stream-cancel') {
      const relay = relays.get(header.requestId);
      if (!relay) return; // for a stream already over
      if (header.type === 'stream-credit') relay.grant(header.bytes);
      else relay.cancel();
      return;
    }
    // A multi-concurrency environment runs its invocations side by side once it is configured; the gateway
    // sends no more at once than the environment takes.
    if (header.type === 'invoke' && environment?.concurrent) {
      invoke(header.invocation, body).catch(fail);
      return;
    }
    // Otherwise messages are served strictly one after another, in arrival order.
    queue = queue.then(async () => {
      switch (header.type) {
        case 'configure':
          // Where the code is mounted is the pod's business: SERVAL_CODE_DIR overrides the gateway's default.
          environment = createEnvironment({
            spec: config.codeDir ? { ...header.spec, codeDir: config.codeDir } : header.spec,
            config,
            sink,
            // An image's runtime that ended cannot be started again: after the result, so does the link.
            ended: () => {
              queue = queue.then(() => socket.close(1000, 'the runtime ended'));
            },
            afterFirstInit: afterInit(config, send),
            wire: () => wire,
            prestarted: prestarted || undefined,
          });
          prestarted = undefined;
          await environment.start();
          provisioned = header.spec.initializationType === 'provisioned-concurrency';
          if (provisioned) {
            const failure = await environment.initAhead();
            // The gateway reads the close reason as the provisioned config's StatusReason.
            if (failure) {
              socket.close(CLOSE_INIT_FAILED, closeReason(failure));
              break;
            }
          }
          send({ type: 'ready' });
          break;
        case 'invoke': {
          await invoke(header.invocation, body);
          // A provisioned environment whose runtime crashed or timed out initialises a new one now, ahead of
          // the next call (which waits in the queue), rather than inside it as an on-demand one does.
          if (provisioned && environment && !environment.isInitialised) {
            const failure = await environment.initAhead();
            if (failure) socket.close(CLOSE_INIT_FAILED, closeReason(failure));
          }
          break;
        }
        case 'shutdown':
          socket.close(1000, header.reason);
          break;
      }
    });
    queue = queue.catch(fail);
  });

  const closed = new Promise<void>((resolve, reject) => {
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`gateway refused the link: HTTP ${res.statusCode}`)),
    );
    socket.once('error', reject);
    // The environment lives exactly as long as its link: when the gateway goes, so does the runtime.
    socket.once('close', () => {
      prestarted?.kill();
      environment?.stop();
      resolve();
    });
  });
  return {
    closed,
    stop: () => {
      prestarted?.kill();
      environment?.stop();
      socket.terminate();
    },
  };
}
