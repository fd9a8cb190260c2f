// The relay's framing: chunks taken in one turn of the event loop leave as one link frame at its end, a
// frame never grows past FRAME_BYTES, nothing waits for more than that turn, and close() sends what is held.
import { describe, expect, it } from 'vitest';
import { type AgentMessage, STREAM_WINDOW_BYTES } from '../../apis/environment-link.ts';
import { FRAME_BYTES, StreamRelay } from './stream-relay.ts';

function recorded() {
  const frames: Buffer[] = [];
  const messages: AgentMessage[] = [];
  const relay = new StreamRelay('req-1', (message, body) => {
    messages.push(message);
    if (message.type === 'stream-chunk')
      frames.push(Buffer.concat(body instanceof Uint8Array ? [body] : (body ?? [])));
  });
  return { relay, frames, messages };
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('StreamRelay', () => {
  it('sends the chunks of one turn as one frame, in order, at the end of that turn', async () => {
    const { relay, frames } = recorded();
    relay.start('text/plain');
    for (const part of ['one ', 'two ', 'three']) relay.chunk(Buffer.from(part));
    expect(frames).toEqual([]); // held until the turn ends
    await nextTurn();
    expect(frames.map(String)).toEqual(['one two three']);
    relay.chunk(Buffer.from(' four'));
    await nextTurn();
    expect(frames.map(String)).toEqual(['one two three', ' four']);
    expect(relay.relayedBytes).toBe(18);
  });

  it('sends a frame at once when it reaches FRAME_BYTES', () => {
    const { relay, frames } = recorded();
    relay.start(undefined);
    const piece = Buffer.alloc(FRAME_BYTES / 4, 0x61);
    for (let i = 0; i < 5; i++) relay.chunk(piece);
    expect(frames.map((f) => f.length)).toEqual([FRAME_BYTES]);
  });

  it('close() sends what is held before the result, and nothing after', () => {
    const { relay, frames, messages } = recorded();
    relay.start(undefined);
    relay.chunk(Buffer.from('last words'));
    relay.close();
    expect(frames.map(String)).toEqual(['last words']);
    relay.chunk(Buffer.from('too late'));
    expect(messages.map((m) => m.type)).toEqual(['stream-start', 'stream-chunk']);
  });

  it('cancel() drops what is held and does not count it as relayed', async () => {
    const { relay, frames } = recorded();
    relay.start(undefined);
    relay.chunk(Buffer.from('sent'));
    relay.flush();
    relay.chunk(Buffer.from('dropped'));
    relay.cancel();
    await nextTurn();
    expect(frames.map(String)).toEqual(['sent']);
    expect(relay.relayedBytes).toBe(4);
  });

  it('held bytes count against the window: the caller is told to wait once it is spent', async () => {
    const { relay } = recorded();
    relay.start(undefined);
    const piece = Buffer.alloc(STREAM_WINDOW_BYTES / 8);
    const answers = Array.from({ length: 8 }, () => relay.chunk(piece));
    expect(answers.slice(0, 7).every(Boolean)).toBe(true);
    expect(answers[7]).toBe(false);
    let writable = false;
    void relay.writable().then(() => (writable = true));
    await nextTurn();
    expect(writable).toBe(false);
    relay.grant(STREAM_WINDOW_BYTES / 8);
    await relay.writable();
  });

  it('chunkLent() sends at once, after what is held, in one frame, and says when the link took the bytes', async () => {
    const lent: Array<{ message: AgentMessage; parts: string[] }> = [];
    let taken: (() => void) | undefined;
    const relay = new StreamRelay(
      'req-1',
      () => {},
      (message, parts) => {
        lent.push({ message, parts: parts.map(String) });
        return new Promise<void>((r) => {
          taken = r;
        });
      },
    );
    relay.start(undefined);
    relay.chunk(Buffer.from('held '));
    const sending = relay.chunkLent([Buffer.from('lent'), Buffer.from(' twice')]);
    expect(lent).toEqual([
      { message: { type: 'stream-chunk', requestId: 'req-1' }, parts: ['held ', 'lent', ' twice'] },
    ]);
    expect(relay.relayedBytes).toBe(15);
    let done = false;
    void sending!.then(() => (done = true));
    await nextTurn();
    expect(done).toBe(false); // the caller keeps its buffer until the link has the bytes
    taken!();
    await sending;
    await nextTurn();
    expect(lent).toHaveLength(1); // nothing held was left to flush at the end of the turn
  });

  it('chunkLent() without a lent sender copies once; cancelled, it drops and keeps taking', () => {
    const { relay, frames } = recorded();
    relay.start(undefined);
    const piece = Buffer.from('abc');
    expect(relay.chunkLent([piece])).toBeUndefined();
    piece.fill(0x78); // the caller reuses its buffer at once
    expect(frames.map(String)).toEqual(['abc']);
    relay.chunkLent([Buffer.alloc(STREAM_WINDOW_BYTES)]);
    expect(relay.hasCredit).toBe(false);
    relay.cancel();
    expect(relay.hasCredit).toBe(true);
    expect(relay.chunkLent([Buffer.from('dropped')])).toBeUndefined();
    expect(frames).toHaveLength(2);
  });
});
