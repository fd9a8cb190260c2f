import { describe, expect, it } from 'vitest';
import type { ProvisionedReport } from '../gateway/src/providers/kubernetes/demand-provider.ts';
import { ProvisionedReports, provisionedStatus } from './provisioned-status.ts';

const spec = { functionName: 'pc', functionVersion: '1', provisionedConcurrency: 2 };
const report = (over: Partial<ProvisionedReport> = {}): ProvisionedReport => ({
  namespace: 'default',
  alias: 'pc-live',
  functionName: 'pc',
  qualifier: 'live',
  requested: 2,
  allocated: 1,
  status: 'IN_PROGRESS',
  lastModified: '2026-12-02T04:00:00.000Z',
  ...over,
});

describe('provisioned concurrency on Alias status (ADR-51)', () => {
  it('is in progress until the gateway reports this count, then follows its status', () => {
    expect(provisionedStatus(spec, undefined, 3).condition).toMatchObject({
      status: 'False',
      reason: 'InProgress',
      observedGeneration: 3,
    });
    // A report of the count before the latest change is not this configuration's.
    expect(provisionedStatus(spec, report({ requested: 1, status: 'READY' }), 3).status.status).toBe(
      'IN_PROGRESS',
    );
    expect(provisionedStatus(spec, report(), 3).condition).toMatchObject({
      status: 'False',
      reason: 'InProgress',
      message: '1 of 2 provisioned environments initialised',
    });
    const ready = provisionedStatus(spec, report({ allocated: 2, status: 'READY' }), 3);
    expect(ready.condition).toMatchObject({ status: 'True', reason: 'Allocated' });
    expect(ready.status).toEqual({
      requested: 2,
      allocated: 2,
      available: 2,
      status: 'READY',
      lastModified: '2026-12-02T04:00:00.000Z',
    });
    const failed = provisionedStatus(
      spec,
      report({ allocated: 0, status: 'FAILED', statusReason: 'boom' }),
      3,
    );
    expect(failed.condition).toMatchObject({
      status: 'False',
      reason: 'Failed',
      message: expect.stringMatching(/boom$/),
    });
    expect(failed.status.statusReason).toBe('boom');
    // An Alias that is not Ready itself says so here too, whatever an earlier report said.
    const invalid = provisionedStatus(spec, report(), 3, 'spec: version(s) 1 of pc are not published');
    expect(invalid.condition).toMatchObject({ status: 'False', reason: 'InvalidTarget' });
    expect(invalid.status.status).toBe('FAILED');
  });

  it('answers the aliases whose report changed, appeared or went', () => {
    const reports = new ProvisionedReports();
    // No answer from the gateway yet: nothing is known, so Alias status is left as it is.
    expect(reports.update(undefined)).toEqual([]);
    expect(reports.heard).toBe(false);
    expect(reports.update([report()])).toEqual(['default/pc-live']);
    expect(reports.heard).toBe(true);
    expect(reports.update([report()])).toEqual([]);
    // No answer from the gateway keeps what it said last.
    expect(reports.update(undefined)).toEqual([]);
    expect(reports.get('default', 'pc-live')).toEqual(report());
    expect(reports.update([report({ alias: 'pc-other' })]).sort()).toEqual([
      'default/pc-live',
      'default/pc-other',
    ]);
    expect(reports.get('default', 'pc-live')).toBeUndefined();
  });
});
