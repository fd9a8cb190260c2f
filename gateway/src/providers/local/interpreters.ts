// Which Python runs a `python3.X` function on this machine: the declared version when it is installed;
// otherwise `python3`, but never silently — `serval dev` warns at load time, saying what it found, or
// refuses the function with SERVAL_PYTHON_MISMATCH=refuse (docs/architecture.md ADR-…).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export type PythonResolution =
  /** `mismatch` says why another version stands in for the declared one. */
  | { ok: true; executable: string; version: string; mismatch?: string | undefined }
  | { ok: false; message: string };

/** The host environment the lookup reads: PATH, and where pyenv keeps its versions. */
export interface HostEnvironment {
  PATH?: string | undefined;
  HOME?: string | undefined;
  PYENV_ROOT?: string | undefined;
}

const found = new Map<string, PythonResolution>();

/**
 * Finds Python `3.X` for runtime `python3.X`: `python3.X` on PATH, then pyenv's versions (newest patch
 * first), then `python3` on PATH — each accepted only if it reports that version. The real executable is
 * returned, not a version manager's shim, which would add 100 ms or more to every cold start. What was
 * found is remembered for the process; finding nothing is looked up again next time.
 */
export function resolvePython(runtime: string, host: HostEnvironment): PythonResolution {
  const known = found.get(runtime);
  if (known) return known;
  const wanted = /^python(3\.\d+)$/.exec(runtime)?.[1];
  if (!wanted) return { ok: false, message: `${runtime} is not a Python runtime` };
  const seen: string[] = [];
  const pyenvVersions = join(host.PYENV_ROOT || join(host.HOME ?? '', '.pyenv'), 'versions');
  const candidates = [
    runtime,
    ...installedPatches(pyenvVersions, wanted).map((v) => join(pyenvVersions, v, 'bin', runtime)),
    'python3',
  ];
  let standIn: { executable: string; version: string } | undefined;
  for (const candidate of candidates) {
    const probe = probePython(candidate, host);
    if (!probe) continue;
    if (probe.version.split('.').slice(0, 2).join('.') === wanted) {
      const exact = { ok: true as const, ...probe };
      found.set(runtime, exact);
      return exact;
    }
    if (candidate === 'python3') standIn = probe;
    seen.push(`${candidate} is Python ${probe.version} (${probe.executable})`);
  }
  const missing =
    `Python ${wanted} is not on this machine (looked for ${runtime} on PATH and ${wanted}.x under ` +
    `${pyenvVersions}${seen.length > 0 ? `; found ${seen.join(', ')}` : ''})`;
  if (!standIn) return { ok: false, message: `${missing}; no python3 on PATH either` };
  const resolution = { ok: true as const, ...standIn, mismatch: missing };
  found.set(runtime, resolution);
  return resolution;
}

/** pyenv version directories of `3.X` (`3.12.1`, not `3.12-dev` or `3.12.1t`), newest first. */
function installedPatches(versionsDir: string, wanted: string): string[] {
  let names: string[];
  try {
    names = readdirSync(versionsDir);
  } catch {
    return [];
  }
  const pattern = new RegExp(`^${wanted.replace('.', '\\.')}\\.(\\d+)$`);
  return names
    .map((name) => ({ name, patch: Number(pattern.exec(name)?.[1] ?? Number.NaN) }))
    .filter((v) => !Number.isNaN(v.patch))
    .sort((a, b) => b.patch - a.patch)
    .map((v) => v.name);
}

function probePython(
  command: string,
  host: HostEnvironment,
): { executable: string; version: string } | undefined {
  const probe = spawnSync(
    command,
    ['-c', 'import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3])'],
    {
      encoding: 'utf8',
      timeout: 10_000,
      // pyenv's shims need its root and HOME; nothing else of the host's environment matters here.
      env: Object.fromEntries(Object.entries(host).filter(([, v]) => v !== undefined)),
    },
  );
  const [executable, version] = (probe.stdout ?? '').trim().split('\n');
  if (probe.status !== 0 || !executable || !version) return undefined;
  return { executable, version };
}
