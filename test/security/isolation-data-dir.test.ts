// #11.9: the data directory was world-readable (0755/0644): the queue database with payloads, logs with
// request ids, versions/*.json with environment values. It is now the gateway user's alone: directories
// 0700 and files 0600 (umask 077), and a directory an older gateway left lax is tightened at start.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startCli } from '../support/cli.ts';
import { functionManifest, testDataRoot } from '../support/serval.ts';
import { eventually, invoke } from './isolation-support.ts';

const ECHO = `export const handler = async (event) => { console.log('seen', JSON.stringify(event)); return event; };`;

/** Every path below dir that group or others could read, write or enter. */
function openToOthers(dir: string): string[] {
  const open: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) open.push(`${path} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return open;
}

describe('isolation: the data directory', () => {
  const work = mkdtempSync(join(testDataRoot(), 'isolation-data-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('is private to the gateway user: queue database, logs, versions and code included', async () => {
    const manifests = join(work, 'manifests');
    const dataDir = join(work, 'data');
    mkdirSync(manifests);
    writeFileSync(
      join(manifests, 'functions.yaml'),
      stringify(
        functionManifest({
          name: 'echo',
          runtime: 'nodejs22.x',
          handler: 'index.handler',
          inline: { 'index.mjs': ECHO },
          environment: { SECRET_SETTING: 'kept in versions/*.json' },
        }),
      ),
    );
    // What an older gateway left: world-readable.
    mkdirSync(join(dataDir, 'logs'), { recursive: true, mode: 0o755 });
    writeFileSync(join(dataDir, 'logs', 'old.log'), 'request ids', { mode: 0o644 });
    const gateway = await startCli(['dev', manifests], { dataDir });
    try {
      expect((await invoke(gateway.url, 'echo', { sync: true })).status).toBe(200);
      const queued = await invoke(
        gateway.url,
        'echo',
        { queued: true },
        { 'X-Amz-Invocation-Type': 'Event' },
      );
      expect(queued.status).toBe(202);
      const published = await fetch(`${gateway.url}/2015-03-31/functions/echo/versions`, {
        method: 'POST',
        body: '{}',
      });
      expect(published.status).toBe(201);
      const names = () => readdirSync(dataDir, { recursive: true }).map(String);
      await eventually(
        () =>
          ['async-events.db', 'logs/default/echo.log'].every((n) => names().includes(n)) ? true : undefined,
        'the queue database and the function log',
      );
      expect(names().some((n) => /^versions\/default\/echo\.json$/.test(n))).toBe(true);
      expect(openToOthers(dataDir)).toEqual([]);
    } finally {
      await gateway.stop();
    }
  });

  it('without namespaces, start-up says that local mode is single-tenant', async () => {
    const manifests = join(work, 'empty');
    mkdirSync(manifests);
    const gateway = await startCli(['dev', manifests], {
      dataDir: join(work, 'single-tenant'),
      env: { SERVAL_LOCAL_ISOLATION: 'off' },
    });
    try {
      expect(gateway.stderr()).toMatch(/serval: local mode is single-tenant: .*SERVAL_LOCAL_ISOLATION=off/);
    } finally {
      await gateway.stop();
    }
  });
});
