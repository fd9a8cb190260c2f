// Where environments load Serval's shims from: the built JavaScript tree (ADR-56), or the TypeScript
// sources (saying why) if it cannot be built.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShimTree } from './compile-cache.ts';
import { buildShims } from './shim-build.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface LoadableShims {
  agentMain: string;
  /** The agent with the Node runtime inside it (ADR-52). */
  inProcessMain: string;
  /** Its first process, so Node is not PID 1 and something outlives it to say how it died (ADR-54). */
  inProcessSupervisor: string;
  inProcessPostMortem: string;
  /** The built tree's root, which a sandbox must show; none for the sources. */
  root?: string;
  tree: ShimTree;
}

/** The agent's entry points in the built shims, or in the sources (saying why) if they cannot be built. */
export function loadableShims(cacheDir: string | undefined, notes: string[]): LoadableShims {
  // The same entry points in either tree; only the modules' extension differs.
  const entries = (dir: string, ext: '.ts' | '.js') => ({
    agentMain: join(dir, `agent/main${ext}`),
    inProcessMain: join(dir, `node/in-process/main${ext}`),
    inProcessSupervisor: join(dir, 'node/in-process/supervise.sh'),
    inProcessPostMortem: join(dir, `node/in-process/post-mortem${ext}`),
  });
  const source = (dir: string): LoadableShims => ({
    ...entries(dir, '.ts'),
    tree: { runtimeShimsDir: dir, dirs: [dir, join(REPO_ROOT, 'apis')] },
  });
  if (!cacheDir) return source(join(REPO_ROOT, 'runtime-shims'));
  try {
    const built = buildShims(REPO_ROOT, cacheDir);
    const dir = built.runtimeShimsDir;
    return { ...entries(dir, '.js'), root: built.root, tree: { runtimeShimsDir: dir, dirs: [built.root] } };
  } catch (err) {
    notes.push(
      `environments load the runtimes' TypeScript sources, about 12 MB more each (${(err as Error).message})`,
    );
    return source(join(REPO_ROOT, 'runtime-shims'));
  }
}
