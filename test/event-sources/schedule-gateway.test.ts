// A schedule mapping in a manifest, end to end through a real gateway: the mapping API shows its next fire
// times, and at the next minute the function runs once, asynchronously, with EventBridge's Scheduled Event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'ticker',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: {
          'index.mjs':
            'export const handler = async (event) => { console.log("TICK " + JSON.stringify(event)); };',
        },
      },
    ],
    documents: [
      {
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'EventSourceMapping',
        metadata: { name: 'every-minute' },
        spec: { functionName: 'ticker', source: { schedule: { expression: 'rate(1 minute)' } } },
      },
    ],
  });
});
afterAll(() => serval?.stop());

describe('a schedule mapping in a gateway', () => {
  it('shows its next fire times and invokes the function at the next one', async () => {
    const list = (await (await fetch(`${serval.url}/2015-03-31/event-source-mappings/`)).json()) as {
      EventSourceMappings: { UUID: string; State: string; NextFireTimes?: string[] }[];
    };
    const mapping = list.EventSourceMappings.find((m) => m.NextFireTimes !== undefined)!;
    expect(mapping.State).toBe('Enabled');
    const next = mapping.NextFireTimes!.map((t) => Date.parse(t));
    expect(next).toHaveLength(3);
    expect(next[0]! % 60_000).toBe(0);
    expect(next[1]! - next[0]!).toBe(60_000);

    const ticks = () => serval.logs('ticker').filter((l) => l.includes('TICK '));
    await expect.poll(ticks, { timeout: 90_000, interval: 250 }).toHaveLength(1);
    const event = JSON.parse(ticks()[0]!.slice(ticks()[0]!.indexOf('TICK ') + 5));
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: 'default',
      time: new Date(next[0]!).toISOString().replace('.000Z', 'Z'),
      region: 'local',
      resources: ['arn:serval:events:local:default:rule/every-minute'],
      detail: {},
    });
    const metrics = await (await fetch(serval.metricsUrl!)).text();
    expect(metrics).toMatch(
      /serval_schedule_ticks_total\{[^}]*mapping="every-minute"[^}]*outcome="fired"\} 1/,
    );
  }, 120_000);
});
