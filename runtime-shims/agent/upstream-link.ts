// The agent's side of the link to the gateway: authenticates, receives its spec, serves invocations one at a time.
import { Socket } from 'node:net';
import WebSocket from 'ws';
import {
  type AgentMessage,
  decodeFrame,
  encodeFrame,
  type GatewayMessage,
} from '../../apis/environment-link.ts';
import type { AgentConfig } from './config.ts';
import { Environment } from './environment.ts';
import { StreamRelay } from './stream-relay.ts';

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

export function connectUpstream(config: AgentConfig, sink: (line: string) => void): UpstreamLink {
  const { linkFd } = config;
  const socket = new WebSocket(config.linkUrl, {
    headers: { Authorization: `Bearer ${config.token}` },
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
    // The same handshake and frames over the socket the provider passed in, where there is one.
    ...(linkFd !== undefined && {
      createConnection: () => new Socket({ fd: linkFd, readable: true, writable: true }),
    }),
  });
  let environment: Environment | undefined;
  let provisioned = false;
  let queue = Promise.resolve();
  /** The streamed response under way, if any: credit and cancel for it must not queue behind its invoke. */
  let relay: StreamRelay | undefined;
  const send = (message: AgentMessage, body?: Buffer) => socket.send(encodeFrame(message, body));

  socket.on('message', (data: Buffer) => {
    const { header, body } = decodeFrame<GatewayMessage>(data);
    if (header.type === 'stream-credit' || header.type === 'stream-cancel') {
      if (relay?.requestId !== header.requestId) return; // for a stream already over
      if (header.type === 'stream-credit') relay.grant(header.bytes);
      else relay.cancel();
      return;
    }
    // Invocations are served strictly one after another, in arrival order.
    queue = queue.then(async () => {
      switch (header.type) {
        case 'configure':
          // Where the code is mounted is the pod's business: SERVAL_CODE_DIR overrides the gateway's default.
          environment = new Environment(
            config.codeDir ? { ...header.spec, codeDir: config.codeDir } : header.spec,
            config,
            sink,
          );
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
          if (!environment) throw new Error('invoke before configure');
          relay = new StreamRelay(header.invocation.requestId, send);
          const outcome = await environment.invoke(header.invocation, body, relay);
          relay = undefined;
          send({ type: 'result', result: outcome.result }, outcome.body);
          // A provisioned environment whose runtime crashed or timed out initialises a new one now, ahead of
          // the next call (which waits in the queue), rather than inside it as an on-demand one does.
          if (provisioned && !environment.isInitialised) {
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
    queue = queue.catch((err: unknown) => {
      process.stderr.write(`serval-agent: ${String(err)}\n`);
      socket.close(1011, 'agent failure');
    });
  });

  const closed = new Promise<void>((resolve, reject) => {
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`gateway refused the link: HTTP ${res.statusCode}`)),
    );
    socket.once('error', reject);
    // The environment lives exactly as long as its link: when the gateway goes, so does the runtime.
    socket.once('close', () => {
      environment?.stop();
      resolve();
    });
  });
  return {
    closed,
    stop: () => {
      environment?.stop();
      socket.terminate();
    },
  };
}
