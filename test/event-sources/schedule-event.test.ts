// EventBridge's Scheduled Event (reference §14.2) and the tick id every replica agrees on.
import { describe, expect, it } from 'vitest';
import { scheduledEvent, tickId } from '../../gateway/src/event-sources/schedule/scheduled-event.ts';

const target = {
  uuid: '6f1c2f7e-0000-4000-8000-000000000001',
  namespace: 'reports',
  name: 'nightly',
  region: 'local',
};

describe('scheduledEvent', () => {
  it('has every field of the Scheduled Event', () => {
    const time = Date.parse('2026-11-24T03:00:00.250Z');
    expect(scheduledEvent(target, time)).toEqual({
      version: '0',
      id: tickId(target.uuid, time),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: 'reports',
      time: '2026-11-24T03:00:00Z',
      region: 'local',
      resources: ['arn:serval:events:local:reports:rule/nightly'],
      detail: {},
    });
  });

  it('names a tick the same way every time, and different ticks and mappings differently', () => {
    const t = Date.parse('2026-11-24T03:00:00Z');
    expect(tickId(target.uuid, t)).toBe(tickId(target.uuid, t));
    expect(tickId(target.uuid, t)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(tickId(target.uuid, t + 60_000)).not.toBe(tickId(target.uuid, t));
    expect(tickId('another-mapping', t)).not.toBe(tickId(target.uuid, t));
  });
});
