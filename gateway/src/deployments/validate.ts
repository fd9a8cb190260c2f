// What must hold before a deployment starts, in local and cluster mode alike. A refusal names the field and
// leaves the alias untouched.
import type { AliasSpec } from '../../../apis/alias.ts';
import type { DeploymentSpec } from '../../../apis/deployment.ts';
import { usesCounters } from './health.ts';

export interface StartContext {
  alias: AliasSpec;
  spec: DeploymentSpec;
  isPublished(version: string): boolean;
  isFunction(name: string): boolean;
  /** Whether the per-version counters can be read (the gateway keeps metrics). */
  countersAvailable: boolean;
  prometheusUrl: string | undefined;
}

export interface StartRefusal {
  type: 'InvalidParameterValueException' | 'ResourceNotFoundException';
  message: string;
}

export function refusalOf(c: StartContext): StartRefusal | undefined {
  const invalid = (message: string): StartRefusal => ({ type: 'InvalidParameterValueException', message });
  const { alias, spec } = c;
  const from = alias.functionVersion;
  if (from === '$LATEST')
    return invalid('a deployment shifts between published versions; the alias points to $LATEST');
  if (Object.keys(alias.routingConfig?.additionalVersionWeights ?? {}).length > 0)
    return invalid('the alias already splits traffic; roll back or clear its routingConfig before deploying');
  if (spec.targetVersion === from) return invalid(`the alias is already on version ${from}`);
  if (!c.isPublished(spec.targetVersion))
    return {
      type: 'ResourceNotFoundException',
      message: `targetVersion: version ${spec.targetVersion} of ${alias.functionName} is not published`,
    };
  for (const hook of ['preTrafficHook', 'postTrafficHook'] as const) {
    const name = spec[hook];
    if (name && !c.isFunction(name)) return invalid(`${hook}: ${name} is not a function in this namespace`);
  }
  if (usesCounters(spec.rollback) && !c.countersAvailable)
    return invalid('rollback thresholds read the gateway metrics, which are off (SERVAL_METRICS=off)');
  if (spec.rollback?.promql?.length && !c.prometheusUrl)
    return invalid('rollback.promql needs a Prometheus to ask (SERVAL_PROMETHEUS_URL)');
  return undefined;
}
