// Puts a function's code into a pre-warmed environment's own directory, which its sandbox already shows
// read-only at /var/task (ADR-50): hard links where the file system allows (one link per file, no data
// copied, the same files the function would have seen), a copy where it does not (another file system, or
// files the kernel will not let us link). Symbolic links are recreated as they are.
import { copyFileSync, linkSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

export class TooManyFiles extends Error {}

/**
 * Fills the empty directory `to` with the tree at `from`; returns how many entries it made. Throws
 * TooManyFiles past `budget` entries: linking costs per file, and past some size a cold start is cheaper.
 */
export function linkTree(from: string, to: string, budget = Number.POSITIVE_INFINITY): number {
  let made = 0;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    made++;
    if (made > budget) throw new TooManyFiles(`${from} holds more than ${budget} files`);
    if (entry.isDirectory()) {
      mkdirSync(target);
      made += linkTree(source, target, budget - made);
    } else if (entry.isSymbolicLink()) {
      symlinkSync(readlinkSync(source), target);
    } else if (entry.isFile()) {
      linkOrCopy(source, target);
    }
    // Sockets, FIFOs and devices are no function's code: left out, as a zip would.
  }
  return made;
}

function linkOrCopy(source: string, target: string): void {
  try {
    linkSync(source, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    copyFileSync(source, target);
  }
}
