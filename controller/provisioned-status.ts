// Provisioned concurrency on Alias status (ADR-51). The gateway keeps the environments and knows their
// allocation; it reports it beside its demand list, and the controller, the one writer of Alias status,
// turns each report into `status.provisionedConcurrency` and the `ProvisionedConcurrency` condition.
import type { AliasSpec } from '../apis/alias.ts';
import type { ProvisionedConcurrencyStatus } from '../apis/status.ts';
import type { ProvisionedReport } from '../gateway/src/providers/kubernetes/demand-provider.ts';
import type { Condition } from '../kube/resources.ts';

/** `status.provisionedConcurrency`: GetProvisionedConcurrencyConfig's fields. */
export type ProvisionedStatus = ProvisionedConcurrencyStatus;

/** The gateway's latest reports, by Alias resource (`namespace/name`). */
export class ProvisionedReports {
  private byAlias = new Map<string, ProvisionedReport>();
  /**
   * Whether the gateway has answered since this controller started: until then an Alias's status is left
   * as it was, rather than flipped to InProgress by a controller that merely knows nothing yet.
   */
  heard = false;

  /** Takes a new set of reports; answers the aliases (`namespace/name`) whose report changed. */
  update(reports: ProvisionedReport[] | undefined): string[] {
    if (reports === undefined) return [];
    this.heard = true;
    const next = new Map(reports.map((r) => [`${r.namespace}/${r.alias}`, r]));
    const changed = [...new Set([...this.byAlias.keys(), ...next.keys()])].filter(
      (key) => JSON.stringify(this.byAlias.get(key)) !== JSON.stringify(next.get(key)),
    );
    this.byAlias = next;
    return changed;
  }

  get(namespace: string, alias: string): ProvisionedReport | undefined {
    return this.byAlias.get(`${namespace}/${alias}`);
  }
}

/**
 * The condition and status for an Alias with `spec.provisionedConcurrency`, from the gateway's report of it
 * (absent until the gateway has seen the Alias). A report of another count is one from before the latest
 * change. `invalid`: why the Alias itself is not Ready (its version is not published, say).
 */
export function provisionedStatus(
  spec: AliasSpec,
  report: ProvisionedReport | undefined,
  generation: number | undefined,
  invalid?: string,
): { condition: Omit<Condition, 'lastTransitionTime'>; status: ProvisionedStatus } {
  const requested = spec.provisionedConcurrency ?? 0;
  const base = { type: 'ProvisionedConcurrency', observedGeneration: generation };
  if (invalid) {
    return {
      condition: { ...base, status: 'False', reason: 'InvalidTarget', message: invalid },
      status: { requested, allocated: 0, available: 0, status: 'FAILED', statusReason: invalid },
    };
  }
  if (!report || report.requested !== requested) {
    return {
      condition: {
        ...base,
        status: 'False',
        reason: 'InProgress',
        message: `0 of ${requested} provisioned environments initialised: waiting for the gateway to allocate them`,
      },
      status: { requested, allocated: 0, available: 0, status: 'IN_PROGRESS' },
    };
  }
  const counts = `${report.allocated} of ${requested} provisioned environments initialised`;
  const condition: Omit<Condition, 'lastTransitionTime'> =
    report.status === 'READY'
      ? { ...base, status: 'True', reason: 'Allocated', message: counts }
      : report.status === 'FAILED'
        ? { ...base, status: 'False', reason: 'Failed', message: `${counts}: ${report.statusReason ?? ''}` }
        : { ...base, status: 'False', reason: 'InProgress', message: counts };
  return {
    condition,
    status: {
      requested,
      allocated: report.allocated,
      available: report.allocated,
      status: report.status,
      ...(report.statusReason ? { statusReason: report.statusReason.slice(0, 4096) } : {}),
      lastModified: report.lastModified,
    },
  };
}
