// `serval logs <function> [--follow]`: prints a function's log stream (START/END/REPORT or JSON records and
// the function's own output) from the files `serval dev` writes; with --follow it keeps printing as they grow.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { functionLogPath } from '../gateway/src/observability/function-log-files.ts';

export interface LogsOptions {
  dataDir: string;
  namespace: string;
  follow: boolean;
  /** Only the last N lines of what is already there. */
  tail?: number | undefined;
  out: (chunk: string) => void;
  /** Ends --follow. */
  signal?: AbortSignal | undefined;
  pollMs?: number;
}

export async function logs(functionName: string, options: LogsOptions): Promise<void> {
  const { dataDir, namespace, follow, tail, out, signal, pollMs = 200 } = options;
  const path = functionLogPath(dataDir, namespace, functionName);
  if (!existsSync(path) && !follow) {
    throw new Error(
      `no logs for ${namespace}/${functionName} in ${dataDir}: ` +
        'has it run under `serval dev` with this data directory?',
    );
  }
  let position = { offset: 0, ino: -1 };
  if (existsSync(path)) {
    const { size, ino } = statSync(path);
    const text = readRange(path, 0, size);
    out(tail === undefined ? text : lastLines(text, tail));
    position = { offset: size, ino };
  }
  while (follow && !signal?.aborted) {
    await new Promise((r) => setTimeout(r, pollMs));
    if (!existsSync(path)) continue;
    const { size, ino } = statSync(path);
    if (ino !== position.ino && position.ino !== -1) {
      // Rotated: finish the old file (now `.1`), then read the new one from its start.
      const rotated = `${path}.1`;
      if (existsSync(rotated)) out(readRange(rotated, position.offset, statSync(rotated).size));
      position = { offset: 0, ino };
    } else if (size < position.offset) {
      position = { offset: 0, ino }; // truncated
    }
    if (size > position.offset) out(readRange(path, position.offset, size));
    position = { offset: size, ino };
  }
}

function readRange(path: string, from: number, to: number): string {
  if (to <= from) return '';
  const buffer = Buffer.alloc(to - from);
  const fd = openSync(path, 'r');
  try {
    const read = readSync(fd, buffer, 0, buffer.length, from);
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  const complete = text.endsWith('\n') ? lines.slice(0, -1) : lines;
  const kept = complete.slice(Math.max(0, complete.length - n));
  return kept.length === 0 ? '' : `${kept.join('\n')}${text.endsWith('\n') ? '\n' : ''}`;
}
