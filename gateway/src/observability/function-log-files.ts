// In local mode each function's log stream also goes to a file of its own under the data directory (the
// local stand-in for a CloudWatch log group), so `serval logs` can show and follow it from another terminal.
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';

/** A file is rotated to `<name>.log.1` past this size; one generation is kept. */
export const LOG_FILE_MAX_BYTES = 16 * 1024 * 1024;

export function functionLogPath(dataDir: string, namespace: string, functionName: string): string {
  return join(dataDir, 'logs', namespace, `${functionName}.log`);
}

interface OpenFile {
  path: string;
  stream: WriteStream;
  bytes: number;
}

export class FunctionLogFiles {
  private readonly dataDir: string;
  private readonly maxBytes: number;
  private readonly files = new Map<string, OpenFile>();

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
    const entry = `${line}\n`;
    file.stream.write(entry);
    file.bytes += Buffer.byteLength(entry);
    if (file.bytes > this.maxBytes) {
      // Writes still queued on the old stream land in the renamed file, which is where they belong.
      file.stream.end();
      renameSync(file.path, `${file.path}.1`);
      this.files.set(key, this.open(file.path));
    }
  }

  async close(): Promise<void> {
    const open = [...this.files.values()];
    this.files.clear();
    await Promise.all(open.map((f) => new Promise<void>((resolve) => f.stream.end(resolve))));
  }

  private open(path: string): OpenFile {
    mkdirSync(dirname(path), { recursive: true });
    const bytes = existsSync(path) ? statSync(path).size : 0;
    return { path, stream: createWriteStream(path, { flags: 'a' }), bytes };
  }
}
