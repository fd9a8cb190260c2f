// In local mode each function's log stream also goes to a file of its own under the data directory (the
// local stand-in for a CloudWatch log group), so `serval logs` can show and follow it from another terminal.
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';

/** A file is rotated to `<name>.log.1` past this size; one generation is kept. */
export const LOG_FILE_MAX_BYTES = 16 * 1024 * 1024;
const FLUSH_INTERVAL_MS = 50;
const FLUSH_CHARS = 64 * 1024;

export function functionLogPath(dataDir: string, namespace: string, functionName: string): string {
  return join(dataDir, 'logs', namespace, `${functionName}.log`);
}

interface OpenFile {
  path: string;
  stream: WriteStream;
  bytes: number;
  /** Lines appended since the last flush, written together. */
  pending: string[];
  pendingChars: number;
}

export class FunctionLogFiles {
  private readonly dataDir: string;
  private readonly maxBytes: number;
  private readonly files = new Map<string, OpenFile>();
  /** Files with pending lines; a flush writes each of them once. */
  private readonly dirty = new Set<OpenFile>();

  constructor(dataDir: string, maxBytes = LOG_FILE_MAX_BYTES) {
    this.dataDir = dataDir;
    this.maxBytes = maxBytes;
  }

  append(namespace: string, functionName: string, line: string): void {
    const key = `${namespace}/${functionName}`;
    let file = this.files.get(key);
    if (!file) {
      file = this.open(functionLogPath(this.dataDir, namespace, functionName));
      this.files.set(key, file);
    }
    // A busy function logs START, its output, END and REPORT per call: the lines of many calls go out in
    // one write a few times a second rather than one write each, which cost the gateway a thread-pool
    // round trip per line under load. A reader following the file sees them within FLUSH_INTERVAL_MS.
    if (this.dirty.size === 0) setTimeout(() => this.flush(), FLUSH_INTERVAL_MS).unref();
    this.dirty.add(file);
    file.pending.push(line);
    file.pendingChars += line.length + 1;
    if (file.pendingChars > FLUSH_CHARS) this.flush();
  }

  async close(): Promise<void> {
    this.flush();
    const open = [...this.files.values()];
    this.files.clear();
    await Promise.all(open.map((f) => new Promise<void>((resolve) => f.stream.end(resolve))));
  }

  private flush(): void {
    for (const file of this.dirty) {
      const chunk = `${file.pending.join('\n')}\n`;
      file.pending = [];
      file.pendingChars = 0;
      file.stream.write(chunk);
      file.bytes += Buffer.byteLength(chunk);
      if (file.bytes > this.maxBytes) {
        // Writes still queued on the old stream land in the renamed file, which is where they belong.
        file.stream.end();
        renameSync(file.path, `${file.path}.1`);
        const reopened = this.open(file.path);
        for (const [key, f] of this.files) if (f === file) this.files.set(key, reopened);
      }
    }
    this.dirty.clear();
  }

  private open(path: string): OpenFile {
    mkdirSync(dirname(path), { recursive: true });
    const bytes = existsSync(path) ? statSync(path).size : 0;
    return { path, stream: createWriteStream(path, { flags: 'a' }), bytes, pending: [], pendingChars: 0 };
  }
}
