// Which program starts the runtime for a function's runtime identifier.
import { accessSync, constants } from 'node:fs';
import { delimiter, extname, join } from 'node:path';
import type { EnvironmentSpec } from '../../apis/environment-link.ts';

/** `.ts` from the source tree, `.js` from the built one (gateway/src/providers/local/shim-build.ts). */
const MODULE_EXT = extname(import.meta.url);

export type RuntimeCommand =
  | { ok: true; file: string; args: string[] }
  | { ok: false; errorType: string; message: string };

export function runtimeCommand(
  spec: EnvironmentSpec,
  runtimeDir: string,
  path: string,
  pythonExecutable?: string,
): RuntimeCommand {
  if (spec.runtime.startsWith('nodejs')) {
    // Lambda's Node bootstrap caps the old generation at 90 % of the function's memory.
    const heap = Math.floor((spec.memoryMB * 90) / 100);
    return {
      ok: true,
      file: process.execPath,
      args: [`--max-old-space-size=${heap}`, join(runtimeDir, 'node', `bootstrap${MODULE_EXT}`)],
    };
  }
  if (spec.runtime.startsWith('python')) {
    const python = pythonExecutable ?? findExecutable(spec.runtime, path) ?? findExecutable('python3', path);
    if (!python) {
      return {
        ok: false,
        errorType: 'Runtime.InvalidEntrypoint',
        message: `No ${spec.runtime} interpreter found`,
      };
    }
    return { ok: true, file: python, args: [join(runtimeDir, 'python', 'bootstrap.py')] };
  }
  const bootstrap = join(spec.codeDir, 'bootstrap');
  if (!isExecutable(bootstrap)) {
    return {
      ok: false,
      errorType: 'Runtime.InvalidEntrypoint',
      message: `Couldn't find valid bootstrap(s): [${bootstrap}]`,
    };
  }
  return { ok: true, file: bootstrap, args: [] };
}

function findExecutable(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
