// `serval deploy …`: start, follow, stop and roll back an alias deployment; a thin client of
// /serval/v1/deployments (docs/deployments.md).
import type { DeploymentState } from '../apis/deployment.ts';
import { ControlApiError, type ControlOptions, callApi, fail } from './control.ts';

export interface DeployRequest {
  version: string;
  strategy: string;
  errorRate?: string | undefined;
  preTrafficHook?: string | undefined;
  postTrafficHook?: string | undefined;
}

const path = (fn: string, alias: string, action = '') =>
  `/serval/v1/deployments/${encodeURIComponent(fn)}/${encodeURIComponent(alias)}${action}`;

export async function deployStart(
  fn: string,
  alias: string,
  req: DeployRequest,
  o: ControlOptions,
): Promise<void> {
  const spec: Record<string, unknown> = { strategy: req.strategy, targetVersion: req.version };
  if (req.preTrafficHook) spec.preTrafficHook = req.preTrafficHook;
  if (req.postTrafficHook) spec.postTrafficHook = req.postTrafficHook;
  if (req.errorRate !== undefined) {
    const rate = Number(req.errorRate);
    if (req.errorRate === '' || !Number.isFinite(rate))
      throw new ControlApiError(
        `--rollback-error-rate takes a share from 0 to 1, e.g. 0.05; got "${req.errorRate}"`,
      );
    spec.rollback = { errorRate: rate };
  }
  const r = await callApi(o, 'POST', path(fn, alias), spec);
  if (r.status !== 201) fail(r);
  const d = r.json as unknown as DeploymentState;
  o.out(
    `${fn}:${alias}: deployment ${d.id} started: version ${d.fromVersion} -> ${d.targetVersion} (${d.strategy})`,
  );
}

export async function deployStatus(fn: string, alias: string, o: ControlOptions): Promise<void> {
  const r = await callApi(o, 'GET', path(fn, alias));
  if (r.status !== 200) fail(r);
  const view = r.json as {
    functionVersion: string;
    additionalVersionWeights: Record<string, number>;
    current?: DeploymentState;
    history?: DeploymentState[];
  };
  const split = Object.entries(view.additionalVersionWeights)
    .map(([v, w]) => `, ${percent(w)} to version ${v}`)
    .join('');
  o.out(`${fn}:${alias} -> version ${view.functionVersion}${split}`);
  if (view.current) o.out(`in progress: ${line(view.current)}`);
  else o.out('no deployment in progress');
  for (const d of view.history ?? []) o.out(`  ${line(d)}`);
}

export async function deployAction(
  action: 'stop' | 'rollback',
  fn: string,
  alias: string,
  o: ControlOptions,
): Promise<void> {
  const r = await callApi(o, 'POST', path(fn, alias, `/${action}`));
  if (r.status !== 200) fail(r);
  o.out(`${fn}:${alias}: ${line(r.json as unknown as DeploymentState)}`);
}

function line(d: DeploymentState): string {
  const when = d.finishedAt ?? d.startedAt;
  const reason = d.reason ? `: ${d.reason}` : '';
  return `${d.id} ${d.phase} ${d.fromVersion} -> ${d.targetVersion} ${d.strategy}, ${percent(d.targetWeight)} on ${d.targetVersion}, ${when}${reason}`;
}

const percent = (w: number) => `${Math.round(w * 1000) / 10}%`;
