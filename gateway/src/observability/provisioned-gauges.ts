// Provisioned concurrency's series, read from its configurations at scrape time (ADR-41): Lambda's
// ProvisionedConcurrentExecutions, ProvisionedConcurrencyUtilization and
// ProvisionedConcurrencySpilloverInvocations, plus what was requested and allocated. Labelled by the
// alias or version the configuration is on (`qualifier`), one series set per configuration.
import { Counter, type Registry } from 'prom-client';
import type { ProvisionedState } from '../provisioned/provisioned-concurrency.ts';
import { gaugeFrom } from './scrape-gauges.ts';

const LABELS = ['namespace', 'function', 'qualifier'] as const;

export function provisionedGauges(registry: Registry, source: { states(): ProvisionedState[] }): void {
  const each =
    (value: (s: ProvisionedState) => number) => (set: (l: Record<string, string>, v: number) => void) => {
      for (const s of source.states()) set(labelsOf(s), value(s));
    };
  gaugeFrom(
    registry,
    'serval_provisioned_concurrency_requested',
    'Provisioned concurrency configured on an alias or version (RequestedProvisionedConcurrentExecutions).',
    LABELS,
    each((s) => s.config.requested),
  );
  gaugeFrom(
    registry,
    'serval_provisioned_concurrency_allocated',
    'Provisioned environments initialised and ready (AllocatedProvisionedConcurrentExecutions).',
    LABELS,
    each((s) => s.allocated),
  );
  gaugeFrom(
    registry,
    'serval_provisioned_concurrent_executions',
    'Invocations running on provisioned environments now (Lambda: ProvisionedConcurrentExecutions).',
    LABELS,
    each((s) => s.busy),
  );
  gaugeFrom(
    registry,
    'serval_provisioned_concurrency_utilization',
    'Provisioned concurrent executions over allocated provisioned concurrency, 0-1 (Lambda: ProvisionedConcurrencyUtilization).',
    LABELS,
    each((s) => (s.allocated > 0 ? s.busy / s.allocated : 0)),
  );
  new Counter({
    name: 'serval_provisioned_concurrency_spillover_invocations_total',
    help: 'Calls to a provisioned alias or version that found every provisioned environment busy and ran on demand (Lambda: ProvisionedConcurrencySpilloverInvocations).',
    labelNames: LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of source.states()) if (s.spillovers > 0) this.inc(labelsOf(s), s.spillovers);
    },
  });
}

function labelsOf(s: ProvisionedState): Record<(typeof LABELS)[number], string> {
  return { namespace: s.config.namespace, function: s.config.functionName, qualifier: s.config.qualifier };
}
