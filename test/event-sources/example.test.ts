// The queue-worker example as its README runs it: a NATS server, `serval dev examples/queue-worker`, and
// send.mjs; big orders with an id are processed, small ones filtered out, ones without an id retried.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { REPO_ROOT, startServal, type TestServal } from '../support/serval.ts';
import { eventually } from './sqs-support.ts';

describe.skipIf(!natsAvailable)('examples/queue-worker', () => {
  let nats: TestNats;
  let serval: TestServal;

  beforeAll(async () => {
    nats = await startNats();
    serval = await startServal({
      manifestsDir: `${REPO_ROOT}/examples/queue-worker`,
      env: { SERVAL_NATS_URL: nats.url },
    });
    expect(serval.loaded.problems).toEqual([]);
  }, 60_000);

  afterAll(async () => {
    await serval?.stop();
    await nats?.stop();
  });

  it('processes the orders send.mjs sends, filters the small ones and retries the ones without an id', async () => {
    const sent = spawnSync(process.execPath, ['examples/queue-worker/send.mjs', '10'], {
      cwd: REPO_ROOT,
      env: { ...process.env, NATS_URL: nats.url },
      encoding: 'utf8',
    });
    expect(sent.status, sent.stderr).toBe(0);
    const log = () => serval.logs('order-worker').join('\n');
    // Orders 1..10: 4 and 8 are small (filtered); 5 and 10 have no id (three deliveries each).
    await eventually(
      () => (log().match(/has no id \(delivery 3\)/g)?.length === 2 ? true : undefined),
      'retries',
      60_000,
    );
    for (const i of [1, 2, 3, 6, 7, 9]) expect(log()).toContain(`order o-${i}: ${10 * i}`);
    expect(log()).not.toContain('order o-4');
    expect(log()).not.toContain('order o-8');
  });
});
