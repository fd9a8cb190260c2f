// The chart's gateway failed at start on a real node: its data directory is an emptyDir whose mount point is
// root's (mode 2777 with the pod's fsGroup), and tightening it was EPERM for the gateway's user 10001.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const asRoot = process.getuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), 'serval-data-dir-'));
chmodSync(work, 0o755);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!asRoot)('the private data directory', () => {
  it("starts in a volume whose mount point is root's, and tightens what is the gateway user's", () => {
    const dataDir = join(work, 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o2777); // what the kubelet makes of an emptyDir with fsGroup
    const lax = join(dataDir, 'logs');
    mkdirSync(lax, { mode: 0o755 });
    writeFileSync(join(lax, 'old.log'), 'request ids', { mode: 0o644 });
    chownSync(lax, 10001, 10001);
    chownSync(join(lax, 'old.log'), 10001, 10001);
    // User 10001 may not be able to read the checkout (a clone under /root is 0700): it imports a copy of
    // the module, which needs only node's own modules.
    const module = join(work, 'data-dir.ts');
    copyFileSync(new URL('./data-dir.ts', import.meta.url), module);
    chmodSync(module, 0o644);
    const child = spawnSync(
      process.execPath,
      [
        '-e',
        `import(${JSON.stringify(module)}).then((m) => m.preparePrivateDataDir(${JSON.stringify(dataDir)}))`,
      ],
      { uid: 10001, gid: 10001, encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(lstatSync(lax).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(lax, 'old.log')).mode & 0o777).toBe(0o600);
  });
});
