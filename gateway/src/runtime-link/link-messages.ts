// Reads the agent's link messages ([u32 header length][JSON header][body], apis/environment-link.ts) from
// a message's payload as it arrives: a streamed response's chunk goes on piece by piece, never joined;
// every other message is dispatched whole once its last piece came.
import type { AgentMessage } from '../../../apis/environment-link.ts';
import type { MessagePieces } from './link-socket.ts';

export type StreamChunkHeader = Extract<AgentMessage, { type: 'stream-chunk' }>;

export interface LinkMessageHandler {
  message(header: Exclude<AgentMessage, StreamChunkHeader>, body: Buffer): void;
  /** The next piece of a `stream-chunk`'s body, in order; valid during the call only. */
  chunk(header: StreamChunkHeader, piece: Buffer): void;
}

/** A header is a small JSON object; anything near this is no header of ours. */
const MAX_HEADER_BYTES = 1024 * 1024;

export class LinkMessageReader implements MessagePieces {
  private readonly handler: LinkMessageHandler;
  private readonly lengthBytes = Buffer.alloc(4);
  private lengthHave = 0;
  private json: Buffer | undefined;
  private jsonHave = 0;
  private header: AgentMessage | undefined;
  private body: Buffer[] = [];

  constructor(handler: LinkMessageHandler) {
    this.handler = handler;
  }

  data(piece: Buffer): void {
    let at = 0;
    if (this.json === undefined) {
      const take = Math.min(4 - this.lengthHave, piece.length);
      piece.copy(this.lengthBytes, this.lengthHave, 0, take);
      this.lengthHave += take;
      at = take;
      if (this.lengthHave < 4) return;
      const length = this.lengthBytes.readUInt32BE(0);
      if (length > MAX_HEADER_BYTES) throw new Error('link message header too long');
      this.json = Buffer.allocUnsafe(length);
    }
    if (this.header === undefined) {
      const take = Math.min(this.json.length - this.jsonHave, piece.length - at);
      piece.copy(this.json, this.jsonHave, at, at + take);
      this.jsonHave += take;
      at += take;
      if (this.jsonHave < this.json.length) return;
      this.header = JSON.parse(this.json.toString('utf8')) as AgentMessage;
    }
    if (at === piece.length) return;
    const rest = at === 0 ? piece : piece.subarray(at);
    if (this.header.type === 'stream-chunk') this.handler.chunk(this.header, rest);
    else this.body.push(Buffer.from(rest)); // the piece is only lent (MessagePieces)
  }

  end(): void {
    const header = this.header;
    const body = this.body;
    this.lengthHave = 0;
    this.json = undefined;
    this.jsonHave = 0;
    this.header = undefined;
    this.body = [];
    if (header === undefined) throw new Error('link message without a header');
    if (header.type !== 'stream-chunk')
      this.handler.message(header, body.length === 1 ? body[0]! : Buffer.concat(body));
  }
}
