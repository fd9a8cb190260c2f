import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testDataRoot } from '../../../test/support/serval.ts';
import { FunctionLogFiles, functionLogPath } from './function-log-files.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = mkdtempSync(join(testDataRoot(), 'serval-logfiles-'));
  dirs.push(dir);
  return dir;
};
const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

describe('FunctionLogFiles', () => {
  it('writes appended lines out on its own, in order, without waiting for close', async () => {
    const dir = tempDir();
    const files = new FunctionLogFiles(dir);
    for (const line of ['START 1', 'hello', 'END 1']) files.append('default', 'fn', line);
    const path = functionLogPath(dir, 'default', 'fn');
    await expect.poll(() => read(path), { timeout: 10_000 }).toBe('START 1\nhello\nEND 1\n');
    await files.close();
  });

  it('keeps every line of a burst larger than one batch, per function, in order', async () => {
    const dir = tempDir();
    const files = new FunctionLogFiles(dir);
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`);
    for (const line of lines) {
      files.append('default', 'a', line);
      files.append('default', 'b', line.toUpperCase());
    }
    await files.close();
    expect(read(functionLogPath(dir, 'default', 'a'))).toBe(`${lines.join('\n')}\n`);
    expect(read(functionLogPath(dir, 'default', 'b'))).toBe(`${lines.join('\n').toUpperCase()}\n`);
  });
});
