// Where local environments keep their /tmp: `<data dir>/environments/<gateway instance>/<environment id>`.
// Grouping by gateway instance lets a starting gateway remove what a SIGKILLed one left behind, and only
// that: directories of gateways still running on the same data directory stay.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isLiveInstance } from './instance-tag.ts';

export interface EnvironmentDir {
  dir: string;
  /** Becomes the environment's /tmp. */
  tmpDir: string;
  /** Empty: where a view shows code when an environment has none. */
  viewDir: string;
}

export class EnvironmentDirs {
  private readonly root: string;

  constructor(dataDir: string, tag: string) {
    const parent = join(dataDir, 'environments');
    mkdirSync(parent, { recursive: true });
    for (const name of readdirSync(parent)) {
      if (isLiveInstance(name) === false) rmSync(join(parent, name), { recursive: true, force: true });
    }
    this.root = join(parent, tag);
  }

  create(environmentId: string): EnvironmentDir {
    const dir = join(this.root, environmentId);
    const tmpDir = join(dir, 'tmp');
    const viewDir = join(dir, 'view');
    mkdirSync(tmpDir, { recursive: true });
    mkdirSync(viewDir);
    return { dir, tmpDir, viewDir };
  }

  remove(environment: EnvironmentDir): void {
    rmSync(environment.dir, { recursive: true, force: true });
  }

  close(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
