// Finding 9, queue part (issue #11): while NATS was down, Event invocations on the JetStream backend got
// 500 or waited 10 s. They get a prompt, retriable 503 ServiceUnavailable with Retry-After (docs/hardening.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { inlineNode, startServal, type TestServal } from '../support/serval.ts';

describe.runIf(natsAvailable)('Event invocations during a NATS outage', () => {
  let nats: TestNats;
  let serval: TestServal;
  beforeAll(async () => {
    nats = await startNats();
    serval = await startServal({
      env: { SERVAL_QUEUE: 'nats', SERVAL_NATS_URL: nats.url },
      config: { asyncConcurrency: 0 },
      functions: [inlineNode('echo', 'export const handler = async (e) => e;')],
    });
  });
  afterAll(async () => {
    await nats.stop();
    await serval.stop();
  });

  const event = () => serval.invoke('echo', { n: 1 }, { 'X-Amz-Invocation-Type': 'Event' });

  it('are accepted while NATS is up', async () => {
    expect((await event()).status).toBe(202);
  });

  it('are refused promptly with a retriable 503 while it is down', async () => {
    await nats.stop(false);
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const res = await event();
      const took = Date.now() - started;
      expect(res.status, res.text).toBe(503);
      expect(res.headers.get('x-amzn-errortype')).toBe('ServiceUnavailable');
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.json()).toMatchObject({ Type: 'Service' });
      expect(took).toBeLessThan(4_000);
    }
  });
});
