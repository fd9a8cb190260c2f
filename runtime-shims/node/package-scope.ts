// Ends the user's package scope at the code root, as on Lambda: a `.js` (or `.ts`, or extensionless) file
// is CommonJS unless a package.json inside the code root, nearest to the file, says `"type": "module"`. A
// package.json above the root (a developer's ESM project around `serval dev`) must not decide it.

import { readFileSync, realpathSync } from 'node:fs';
import Module, { registerHooks } from 'node:module';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

type Format = 'commonjs' | 'module';

interface CompilingModule {
  _compile(source: string, filename: string, format: string): unknown;
}
type Extension = (module: CompilingModule, filename: string) => unknown;

/** The extensions whose format a package.json decides; `.mjs`/`.cjs`/`.mts`/`.cts` say it themselves. */
const SCOPED = new Set(['.js', '.ts', '']);

let boundRoot: string | undefined;

/** Installs the boundary once per process; the code root never changes inside an environment. */
export function bindPackageScope(codeRoot: string): void {
  if (boundRoot !== undefined) return;
  // Node names modules by their real path, so the root is compared in that form too.
  const taskRoot = realRoot(codeRoot);
  boundRoot = taskRoot;
  const types = new Map<string, Format | undefined>();
  const scoped = (file: string) => file.startsWith(taskRoot + sep) && SCOPED.has(extname(file));
  /** Node's lookup (nearest package.json wins), except that it stops at the code root. */
  const formatOf = (file: string): Format => {
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      let type = types.get(dir);
      if (!types.has(dir)) {
        type = declaredType(dir);
        types.set(dir, type);
      }
      if (type) return type;
      if (dir === taskRoot || dir === dirname(dir)) return 'commonjs';
    }
  };
  const withTypeScript = (file: string, format: Format) =>
    extname(file) === '.ts' ? `${format}-typescript` : format;

  // The ES module loader (import, and the entry module): tell it the format.
  registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith('file:')) return nextLoad(url, context);
      const file = fileURLToPath(url);
      if (!scoped(file)) return nextLoad(url, context);
      return nextLoad(url, { ...context, format: withTypeScript(file, formatOf(file)) });
    },
  });
  // The CommonJS loader reads the package type itself (also when import() hands it a CommonJS file) and
  // consults no hook on that path in Node 24, so its per-extension compiler is where the boundary applies.
  const extensions = (Module as unknown as { _extensions: Record<string, Extension> })._extensions;
  for (const ext of ['.js', '.ts']) {
    const original = extensions[ext];
    if (!original) continue;
    extensions[ext] = function compile(this: unknown, module, filename) {
      if (!scoped(filename) || formatOf(filename) !== 'commonjs')
        return original.call(this, module, filename);
      return module._compile(
        stripBom(readFileSync(filename, 'utf8')),
        filename,
        withTypeScript(filename, 'commonjs'),
      );
    };
  }
}

/** The `type` a directory's package.json declares: `commonjs` when it has one without `type`. */
function declaredType(dir: string): Format | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'package.json'), 'utf8');
  } catch {
    return undefined;
  }
  // An unparseable package.json throws a SyntaxError here, which the loader reports as Runtime.UserCodeSyntaxError.
  return (JSON.parse(text) as { type?: unknown }).type === 'module' ? 'module' : 'commonjs';
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function realRoot(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}
