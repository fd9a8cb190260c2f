// Unpacks a deployment package (function code or a layer) into a directory, refusing what Lambda refuses
// and what could reach outside it: entries with `..` or absolute paths, symbolic links whose target leaves
// the root, and more than the unzipped limit (counted from the entries' real sizes, so a zip bomb that lies
// in its headers stops at the limit too). yauzl reads the central directory, checks entry names and sizes,
// and exposes the Unix mode bits that tell a symbolic link from a file.
import { lstatSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';

/** Lambda's limits: 50 MB zipped when uploaded directly, 250 MB unzipped for function and layers together. */
export const ZIPPED_LIMIT_BYTES = 50 * 1024 * 1024;
export const UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024;

/** A package that cannot be unpacked; the message is safe to show the caller. */
export class BadPackageError extends Error {}
/** The package unpacks to more than the limit it was given. */
export class PackageTooLargeError extends BadPackageError {}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/**
 * Writes the package's files under `dest` (which must not exist yet) and returns their total size. On any
 * refusal nothing is left behind.
 */
export async function unpackZip(zip: Buffer, dest: string, limitBytes: number): Promise<number> {
  let zipfile: ZipFile;
  try {
    zipfile = await yauzl.fromBufferPromise(zip, { lazyEntries: true, validateEntrySizes: true });
  } catch {
    throw new BadPackageError(
      'Could not unzip uploaded file. Please check your file, then try to upload again.',
    );
  }
  mkdirSync(dest, { recursive: true });
  const root = realpathSync(dest);
  const links: Array<{ name: string; path: string }> = [];
  let total = 0;
  try {
    for await (const entry of zipfile.eachEntry()) {
      const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
      const type = mode & S_IFMT;
      const target = resolve(root, entry.fileName);
      if (!inside(root, target)) throw new BadPackageError(`${entry.fileName}: path leaves the package root`);
      // Nothing is written through a link: a link is checked where it lies, so what lies beyond it is not.
      if (throughLink(root, target))
        throw new BadPackageError(`${entry.fileName}: path passes through a symbolic link`);
      if (entry.fileName.endsWith('/') || type === S_IFDIR) {
        mkdirSync(target, { recursive: true });
        continue;
      }
      const content = await readEntry(zipfile, entry, limitBytes - total);
      total += content.length;
      mkdirSync(dirname(target), { recursive: true });
      if (type === S_IFLNK) {
        const link = content.toString('utf8');
        if (isAbsolute(link) || !inside(root, resolve(dirname(target), link)))
          throw new BadPackageError(`${entry.fileName}: symbolic link to ${link} leaves the package root`);
        symlinkSync(link, target);
        links.push({ name: entry.fileName, path: target });
        continue;
      }
      // Executable bits survive (a custom runtime's bootstrap, a layer's /opt/bin tool); nothing else does.
      writeFileSync(target, content, { mode: mode & 0o111 ? 0o755 : 0o644 });
    }
    // A link's target may pass through other links (`s -> ../../p`, `t -> s/../../q`): only where each one
    // really ends, once all are in place, tells whether it stays inside.
    for (const link of links) {
      let real: string;
      try {
        real = realpathSync(link.path);
      } catch {
        throw new BadPackageError(`${link.name}: symbolic link does not resolve inside the package`);
      }
      if (!inside(root, real))
        throw new BadPackageError(`${link.name}: symbolic link leaves the package root`);
    }
  } catch (err) {
    zipfile.close();
    rmSync(root, { recursive: true, force: true });
    if (err instanceof BadPackageError) throw err;
    throw new BadPackageError(
      'Could not unzip uploaded file. Please check your file, then try to upload again.',
    );
  }
  return total;
}

async function readEntry(zipfile: ZipFile, entry: Entry, remaining: number): Promise<Buffer> {
  if (entry.uncompressedSize > remaining) throw tooLarge();
  const stream: Readable = await zipfile.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > remaining) {
      stream.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(): BadPackageError {
  return new PackageTooLargeError(`Unzipped size must be smaller than ${UNZIPPED_LIMIT_BYTES} bytes`);
}

/** Whether an existing directory on the way from root to path is a symbolic link. */
function throughLink(root: string, path: string): boolean {
  let dir = root;
  for (const part of relative(root, dirname(path)).split(sep).filter(Boolean)) {
    dir = join(dir, part);
    try {
      if (lstatSync(dir).isSymbolicLink()) return true;
    } catch {
      return false; // not there yet: mkdir makes a real directory
    }
  }
  return false;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}
