// Small JSON state files in the data directory, replaced atomically so a crash never leaves half a file.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function readJsonFile<T>(file: string, fallback: T): T {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : fallback;
}

/** `mode` applies to a new file; the data directory's umask already makes files 0600. */
export function writeJsonFileAtomically(file: string, value: unknown, mode = 0o666): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(value, null, 2), { mode });
  renameSync(`${file}.tmp`, file);
}
