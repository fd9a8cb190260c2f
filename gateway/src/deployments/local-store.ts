// Local mode keeps each alias's deployment progress in the data directory: the current deployment and the
// last finished ones, so a restarted gateway resumes where it was.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DeploymentState, DeploymentStatus } from '../../../apis/deployment.ts';
import { readJsonFile, writeJsonFileAtomically } from '../versions/json-file.ts';
import { isFinished } from './deployment-run.ts';

export const HISTORY_LIMIT = 10;

export interface AliasRef {
  namespace: string;
  functionName: string;
  alias: string;
}

/** The status after a deployment's new state: a finished one leaves `current` for the head of `history`. */
export function withState(status: DeploymentStatus, state: DeploymentState): DeploymentStatus {
  const history = (status.history ?? []).filter((d) => d.id !== state.id);
  return isFinished(state.phase)
    ? { history: [state, ...history].slice(0, HISTORY_LIMIT) }
    : { current: state, history };
}

export class DeploymentStore {
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'deployments');
  }

  read(ref: AliasRef): DeploymentStatus {
    return readJsonFile<DeploymentStatus>(this.file(ref), {});
  }

  /** Saves a deployment's new state; a finished one leaves `current` for the head of `history`. */
  save(ref: AliasRef, state: DeploymentState): DeploymentStatus {
    const next = withState(this.read(ref), state);
    writeJsonFileAtomically(this.file(ref), next);
    return next;
  }

  /** Every alias with a deployment still in progress. */
  unfinished(): Array<{ ref: AliasRef; state: DeploymentState }> {
    const found: Array<{ ref: AliasRef; state: DeploymentState }> = [];
    if (!existsSync(this.root)) return found;
    for (const namespace of readdirSync(this.root)) {
      for (const functionName of readdirSync(join(this.root, namespace))) {
        for (const file of readdirSync(join(this.root, namespace, functionName))) {
          if (!file.endsWith('.json')) continue;
          const ref = { namespace, functionName, alias: file.slice(0, -'.json'.length) };
          const current = this.read(ref).current;
          if (current && !isFinished(current.phase)) found.push({ ref, state: current });
        }
      }
    }
    return found;
  }

  private file(ref: AliasRef): string {
    return join(this.root, ref.namespace, ref.functionName, `${ref.alias}.json`);
  }
}
