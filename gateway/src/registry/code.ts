// Puts a function's code in a directory the runtime can load, and fingerprints it.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Writes `code.inline` files under `<dataDir>/code/<sha>` (content-addressed, so unchanged code is reused). */
export function materialiseInline(
  dataDir: string,
  files: Record<string, string>,
): { dir: string; sha256: string } {
  const sha256 = hashInline(files);
  const dir = join(dataDir, 'code', sha256);
  for (const [name, text] of Object.entries(files)) {
    const file = resolve(dir, name);
    if (relative(dir, file).startsWith('..'))
      throw new Error(`inline file ${name} escapes the code directory`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text, { mode: name === 'bootstrap' ? 0o755 : 0o644 });
  }
  return { dir, sha256 };
}

/** sha256 over the directory's files (path and content, sorted), skipping dependency caches and Serval's state. */
export function hashDirectory(dir: string): string {
  const entries: Array<[string, Buffer]> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      // `.serval` is Serval's default data directory, which holds its environments when code.path is `.`.
      if (name === 'node_modules' || name === '__pycache__' || name === '.git' || name === '.serval')
        continue;
      const path = join(d, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) entries.push([relative(dir, path), readFileSync(path)]);
    }
  };
  walk(dir);
  return hashFiles(entries);
}

/** The fingerprint `code.inline` files get, as if they were written to a directory. */
export function hashInline(files: Record<string, string>): string {
  return hashFiles(Object.entries(files).map(([name, text]) => [name, Buffer.from(text)]));
}

function hashFiles(entries: Array<[string, Buffer]>): string {
  const hash = createHash('sha256');
  for (const [name, content] of entries.sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(`${name}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest('hex');
}
