// Where a streamed response's chunks go as the agent relays them, and the sink for callers that want the
// whole body at once (Invoke on a function whose runtime streams): it collects up to the buffered limit.
import type { Writable } from 'node:stream';
import type { InvocationResult } from '../../../apis/environment-link.ts';

export interface ResponseSink {
  /** The runtime began a streamed response; `cancel` tells the agent to relay no more of it. */
  start(contentType: string | undefined, cancel: () => void): void;
  /**
   * One chunk, valid during the call only (the link may read into a reused buffer): a sink copies what it
   * keeps. `passed` is called once it left for the client, which returns its bytes to the agent as credit.
   */
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
    if (this.size <= BUFFERED_LIMIT_BYTES) this.chunks.push(Buffer.from(chunk));
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

/** Streamed bytes are copied into blocks of this size on their way to a client. */
const BLOCK_BYTES = 256 * 1024;
/** Blocks kept for reuse across streams: 16 MiB at most. */
const MAX_FREE_BLOCKS = 64;
const freeBlocks: Buffer[] = [];

interface Block {
  buffer: Buffer;
  used: number;
  /** Writes of its bytes the client's socket has not finished. */
  pending: number;
}

/**
 * Writes a stream's chunks to its client and passes credit back once the client's socket took them: at
 * once, or at its next 'drain' (one listener for every waiting chunk). A chunk is only lent, so its bytes
 * are packed into blocks that return for reuse once the socket has written them: no streamed byte costs a
 * fresh buffer for the garbage collector (ADR-49), and many small chunks share a block.
 */
export class ClientWriter {
  private readonly out: Writable;
  private waiting: Array<() => void> = [];
  private block: Block | undefined;

  constructor(out: Writable) {
    this.out = out;
    out.on('drain', () => {
      for (const passed of this.waiting.splice(0)) passed();
    });
  }

  write(data: Uint8Array, passed: () => void): void {
    let took = true;
    for (let at = 0; at < data.length; ) {
      const block = this.room();
      const n = Math.min(BLOCK_BYTES - block.used, data.length - at);
      block.buffer.set(data.subarray(at, at + n), block.used);
      const slice = block.buffer.subarray(block.used, block.used + n);
      block.used += n;
      block.pending++;
      at += n;
      took = this.out.write(slice, () => this.release(block)) && took;
    }
    if (took && this.waiting.length === 0) passed();
    else this.waiting.push(passed);
  }

  /** The block with room for the next bytes; a full one goes back once its writes are done. */
  private room(): Block {
    if (this.block && this.block.used < BLOCK_BYTES) return this.block;
    const full = this.block;
    this.block = { buffer: freeBlocks.pop() ?? Buffer.allocUnsafe(BLOCK_BYTES), used: 0, pending: 0 };
    if (full && full.pending === 0) recycle(full);
    return this.block;
  }

  private release(block: Block): void {
    block.pending--;
    if (block.pending === 0 && block !== this.block) recycle(block);
  }
}

function recycle(block: Block): void {
  if (freeBlocks.length < MAX_FREE_BLOCKS) freeBlocks.push(block.buffer);
}
