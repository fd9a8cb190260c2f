// The gateway's side of one environment's link: sends invocations, matches results, notices loss.
import type { Duplex } from 'node:stream';
import {
  type AgentMessage,
  encodeFrame,
  type GatewayMessage,
  INIT_LIMIT_MS,
  type InvocationRequest,
  type InvocationResult,
  STREAM_WINDOW_BYTES,
} from '../../../apis/environment-link.ts';
import { LinkMessageReader, type StreamChunkHeader } from './link-messages.ts';
import { LinkSocket } from './link-socket.ts';
import {
  EnvironmentOverdueError,
  OVERDUE_GRACE_MS,
  type OverdueCheck,
  unwatchOverdue,
  watchOverdue,
} from './overdue-calls.ts';
import { CollectingSink, type ResponseSink } from './response-sink.ts';

/** The largest link message: an invocation's result stays far below it (6 MB plus its header). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/**
 * Credit goes back to the agent once this much is owed, a quarter of the window: the agent stops only with
 * the whole window unacknowledged, so what is owed here (less than this) never holds it up, and a stream
 * costs a credit message per MiB rather than one per turn of the event loop (ADR-53).
 */
const CREDIT_BYTES = STREAM_WINDOW_BYTES / 4;

export interface InvocationOutput {
  result: InvocationResult;
  body: Buffer;
}

/** The link closed while an invocation was in flight: the environment died under it. */
export class EnvironmentLostError extends Error {}

interface InFlight {
  requestId: string;
  resolve: (o: InvocationOutput) => void;
  reject: (e: Error) => void;
  /** Where a streamed response goes; without one the connection collects it. */
  sink: ResponseSink | undefined;
  collector: CollectingSink | undefined;
  /** Bytes passed on to the client and not yet returned to the agent as credit. */
  credit: number;
  /** Epoch ms it was sent, and past which the environment is taken to have hung (overdue-calls.ts). */
  sentAt: number;
  overdueAt: number;
}

/** When a call sent on a link counts as never to be answered (overdue-calls.ts). */
export interface OverdueLimits {
  timeoutSeconds: number;
  initPhaseMs?: number;
  graceMs?: number;
}

export class AgentConnection implements OverdueCheck {
  readonly environmentId: string;
  /** Invocations the environment runs at once: 1, or its maxConcurrency when multi-concurrent. */
  readonly capacity: number;
  private readonly socket: LinkSocket;
  /** By request id: results and stream frames are matched to their invocation by it. */
  private readonly inFlight = new Map<string, InFlight>();
  private closedFlag = false;
  private closeReasonText: string | undefined;
  private readonly readyListeners: Array<() => void> = [];
  private readonly initialisedListeners: Array<() => void> = [];
  private readonly closeListeners: Array<() => void> = [];
  private readonly limits: Required<OverdueLimits> | undefined;
  /** A result came back: the environment's init is behind it. */
  private answered = false;

  /**
   * `stream` is the upgraded link; `head` the bytes that followed its upgrade request; with `limits`, a call
   * unanswered past them ends the link (overdue-calls.ts).
   */
  constructor(environmentId: string, stream: Duplex, head: Buffer, capacity = 1, limits?: OverdueLimits) {
    this.environmentId = environmentId;
    this.capacity = capacity;
    this.limits = limits && {
      timeoutSeconds: limits.timeoutSeconds,
      // An environment's first call may run its init first, which Lambda bounds on its own.
      initPhaseMs: limits.initPhaseMs ?? INIT_LIMIT_MS,
      graceMs: limits.graceMs ?? OVERDUE_GRACE_MS,
    };
    const reader = new LinkMessageReader({
      message: (header, body) => this.receive(header, body),
      chunk: (header, piece) => this.chunk(header, piece),
    });
    this.socket = new LinkSocket(stream, head, reader, MAX_MESSAGE_BYTES);
    this.socket.onClose((_code, reason) => {
      this.closeReasonText = reason.length > 0 ? reason.toString('utf8') : undefined;
      this.lost();
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** What the agent said when it closed the link, if anything (a provisioned init's failure). */
  get closeReason(): string | undefined {
    return this.closeReasonText;
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  /** The agent's first init is done (a pod with an init CPU boost, ADR-48). */
  onInitialised(listener: () => void): void {
    this.initialisedListeners.push(listener);
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  send(message: GatewayMessage, body?: Buffer): void {
    this.socket.send([encodeFrame(message, body)]);
  }

  /** Ends the link at once, without the closing handshake. */
  terminate(): void {
    this.socket.terminate();
  }

  /**
   * Runs one invocation. A response the runtime streams goes to `sink` chunk by chunk (the result then
   * says `streamedBytes`); without a sink it is collected into the output's body, as a buffered one.
   */
  invoke(invocation: InvocationRequest, body: Buffer, sink?: ResponseSink): Promise<InvocationOutput> {
    if (this.inFlight.size >= this.capacity || this.inFlight.has(invocation.requestId))
      return Promise.reject(new Error(`environment ${this.environmentId} is busy`));
    if (this.closedFlag) return Promise.reject(new EnvironmentLostError('environment link is closed'));
    return new Promise((resolve, reject) => {
      const sentAt = Date.now();
      const limits = this.limits;
      this.inFlight.set(invocation.requestId, {
        requestId: invocation.requestId,
        resolve,
        reject,
        sink,
        collector: undefined,
        credit: 0,
        sentAt,
        overdueAt: limits
          ? sentAt + limits.timeoutSeconds * 1000 + (this.answered ? 0 : limits.initPhaseMs) + limits.graceMs
          : Number.POSITIVE_INFINITY,
      });
      if (limits && this.inFlight.size === 1) watchOverdue(this);
      this.send({ type: 'invoke', invocation }, body);
    });
  }

  /** Fails the calls that are overdue at `now` with EnvironmentOverdueError and ends the link. */
  sweep(now: number): void {
    let overdue = false;
    for (const pending of [...this.inFlight.values()]) {
      if (pending.overdueAt > now) continue;
      overdue = true;
      this.inFlight.delete(pending.requestId);
      pending.reject(
        new EnvironmentOverdueError(this.environmentId, this.limits!.timeoutSeconds, now - pending.sentAt),
      );
    }
    if (!overdue) return;
    if (this.inFlight.size === 0) unwatchOverdue(this);
    // Calls beside it (several at once) are lost with the link; the environment is stopped behind it.
    this.terminate();
  }

  shutdown(reason: string): void {
    if (this.closedFlag) return;
    this.send({ type: 'shutdown', reason });
    this.socket.close(1000, reason);
  }

  private receive(header: Exclude<AgentMessage, StreamChunkHeader>, body: Buffer): void {
    if (header.type === 'ready') {
      for (const l of this.readyListeners) l();
    } else if (header.type === 'initialised') {
      for (const l of this.initialisedListeners) l();
    } else if (header.type === 'result') {
      const pending = this.inFlight.get(header.result.requestId);
      if (!pending) return; // a stale or foreign result
      this.inFlight.delete(pending.requestId);
      this.answered = true;
      if (this.inFlight.size === 0) unwatchOverdue(this);
      pending.resolve(
        pending.collector ? pending.collector.finish(header.result, body) : { result: header.result, body },
      );
    } else {
      this.streamStarted(header);
    }
  }

  private streamStarted(header: Extract<AgentMessage, { type: 'stream-start' }>): void {
    const pending = this.inFlight.get(header.requestId);
    if (!pending) return;
    const { requestId } = header;
    if (!pending.sink) pending.sink = pending.collector = new CollectingSink();
    pending.sink.start(header.contentType, () => {
      if (this.inFlight.get(requestId) === pending && !this.closedFlag)
        this.send({ type: 'stream-cancel', requestId });
    });
  }

  /** A piece of a streamed response goes to its sink as it was read: the agent's frames are never joined. */
  private chunk(header: StreamChunkHeader, piece: Buffer): void {
    const pending = this.inFlight.get(header.requestId);
    pending?.sink?.write(piece, () => this.credit(pending, piece.length));
  }

  /** Credit passed on once a quarter of the window is owed (CREDIT_BYTES), in one message. */
  private credit(pending: InFlight, bytes: number): void {
    pending.credit += bytes;
    if (pending.credit < CREDIT_BYTES) return;
    const granted = pending.credit;
    pending.credit = 0;
    if (this.inFlight.get(pending.requestId) === pending && !this.closedFlag)
      this.send({ type: 'stream-credit', requestId: pending.requestId, bytes: granted });
  }

  private lost(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    unwatchOverdue(this);
    const pending = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const p of pending) p.reject(new EnvironmentLostError(`environment ${this.environmentId} was lost`));
    for (const l of this.closeListeners) l();
  }
}
