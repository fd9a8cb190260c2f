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
});
