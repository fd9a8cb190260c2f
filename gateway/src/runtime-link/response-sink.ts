// Where a streamed response's chunks go as the agent relays them, and the sink for callers that want the
// whole body at once (Invoke on a function whose runtime streams): it collects up to the buffered limit.
import type { Writable } from 'node:stream';
import type { InvocationResult } from '../../../apis/environment-link.ts';

export interface ResponseSink {
  /** The runtime began a streamed response; `cancel` tells the agent to relay no more of it. */
  start(contentType: string | undefined, cancel: () => void): void;
  /** One chunk; `passed` is called once it left for the client, which returns its bytes to the agent as credit. */
  write(chunk: Buffer, passed: () => void): void;
}

/** A buffered response's limit, as for a runtime answering in buffered mode (reference §1.5). */
const BUFFERED_LIMIT_BYTES = 6 * 1024 * 1024 + 100;

export class CollectingSink implements ResponseSink {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private cancel: (() => void) | undefined;
  contentType: string | undefined;

  start(contentType: string | undefined, cancel: () => void): void {
    this.contentType = contentType;
    this.cancel = cancel;
  }

  write(chunk: Buffer, passed: () => void): void {
    this.size += chunk.length;
    if (this.size <= BUFFERED_LIMIT_BYTES) this.chunks.push(chunk);
    else this.cancel?.();
    passed();
  }

  /** The result a buffered caller sees: the collected body, or Lambda's size error past the limit. */
  finish(streamed: InvocationResult, errorBody: Buffer): { result: InvocationResult; body: Buffer } {
    const result = { ...streamed, streamedBytes: undefined };
    if (this.size > BUFFERED_LIMIT_BYTES) {
      const errorType = 'Function.ResponseSizeTooLarge';
      const errorMessage = `Response payload size exceeded maximum allowed payload size (${BUFFERED_LIMIT_BYTES} bytes).`;
      return {
        result: { ...result, outcome: 'error', errorType, contentType: 'application/json' },
        body: Buffer.from(JSON.stringify({ errorType, errorMessage })),
      };
    }
    if (result.outcome === 'error') return { result, body: errorBody };
    return {
      result: { ...result, contentType: this.contentType ?? result.contentType },
      body: Buffer.concat(this.chunks, this.size),
    };
  }
}

/**
 * Writes a stream's chunks to its client and passes credit back once the client's socket took them: at
 * once, or at its next 'drain' (one listener for every waiting chunk).
 */
export class ClientWriter {
  private readonly out: Writable;
  private waiting: Array<() => void> = [];

  constructor(out: Writable) {
    this.out = out;
    out.on('drain', () => {
      for (const passed of this.waiting.splice(0)) passed();
    });
  }

  write(data: Uint8Array, passed: () => void): void {
    if (this.out.write(data) && this.waiting.length === 0) passed();
    else this.waiting.push(passed);
  }
}
