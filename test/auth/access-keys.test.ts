// Access key storage: keys created in the data directory survive a restart and are revoked for good; a
// caller never picks a key's id or secret; a mounted key file is reloaded when it changes, a broken
// update keeps the keys loaded before, and no error message carries a secret.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessKeys } from '../../gateway/src/auth/access-keys/access-keys.ts';
import { MountedKeys } from '../../gateway/src/auth/access-keys/mounted-keys.ts';
import { parseAuthFile } from '../../gateway/src/auth/auth-config.ts';
import { startServal, testDataRoot } from '../support/serval.ts';

const root = mkdtempSync(join(testDataRoot(), 'access-keys-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fresh = (name: string) => mkdtempSync(join(root, `${name}-`));
const noLog = () => {};
const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNl';

describe('keys created through the API (local mode)', () => {
  it('are kept in access-keys.json (0600) and found again by a new gateway; revoked ones are gone', () => {
    const dataDir = fresh('managed');
    const keys = new AccessKeys({ file: undefined, dataDir, log: noLog });
    const key = keys.create({ namespace: 'media', identity: 'ci', groups: ['deployers'] }, new Date(0));
    expect(key.accessKeyId).toMatch(/^AKSV[A-Z2-7]{16}$/);
    expect(key.secretAccessKey).toHaveLength(40);
    expect(statSync(join(dataDir, 'access-keys.json')).mode & 0o777).toBe(0o600);

    const again = new AccessKeys({ file: undefined, dataDir, log: noLog });
    expect(again.get(key.accessKeyId)).toEqual(key);
    expect(again.list()).toEqual([
      {
        accessKeyId: key.accessKeyId,
        namespace: 'media',
        identity: 'ci',
        groups: ['deployers'],
        createdAt: '1970-01-01T00:00:00.000Z',
        source: 'api',
      },
    ]);
    again.revoke(key.accessKeyId);
    expect(new AccessKeys({ file: undefined, dataDir, log: noLog }).get(key.accessKeyId)).toBeUndefined();
    expect(() => again.revoke(key.accessKeyId)).toThrow(/Access key not found/);
  });

  it('take no key id or secret from the caller, and refuse bad names in Lambda words', () => {
    const keys = new AccessKeys({ file: undefined, dataDir: fresh('chosen'), log: noLog });
    const chosen = {
      namespace: 'a',
      identity: 'x',
      accessKeyId: 'AKSVCHOSENCHOSEN0000',
      secretAccessKey: SECRET,
    };
    const key = keys.create(chosen, new Date());
    expect([key.accessKeyId === chosen.accessKeyId, key.secretAccessKey === SECRET]).toEqual([false, false]);
    for (const [input, message] of [
      [{ namespace: 'Not_A_Label', identity: 'x' }, /^namespace: must be a namespace name/],
      [{ namespace: 'a', identity: 'has space' }, /^identity: must be 1-64 letters/],
    ] as const) {
      expect(() => keys.create(input, new Date())).toThrow(message);
    }
  });
});

describe('keys from a mounted file (a Secret in a cluster)', () => {
  const entry = (id: string) => ({
    accessKeyId: id,
    secretAccessKey: SECRET,
    namespace: 'ops',
    identity: 'robot',
  });

  it('are reloaded when the file changes; a broken update keeps the keys loaded before', () => {
    const file = join(fresh('mounted'), 'keys.yaml');
    writeFileSync(file, JSON.stringify({ keys: [entry('AKSVFIRSTFIRSTFIRST0')] }));
    let now = 0;
    const lines: string[] = [];
    const keys = new MountedKeys(file, { log: (l) => lines.push(l), clock: () => now });
    expect(keys.get('AKSVFIRSTFIRSTFIRST0')?.identity).toBe('robot');

    writeFileSync(
      file,
      `keys:\n  - ${JSON.stringify(entry('AKSVSECONDSECONDSEC0'))}\n  - ${JSON.stringify(entry('AKSVTHIRDTHIRDTHIRD0'))}\n`,
    );
    now += 5000;
    expect(keys.get('AKSVSECONDSECONDSEC0')?.namespace).toBe('ops');
    expect(keys.get('AKSVFIRSTFIRSTFIRST0')).toBeUndefined();

    writeFileSync(file, JSON.stringify({ keys: [{ ...entry('AKSVBROKEN'), secretAccessKey: 'short' }] }));
    now += 5000;
    expect(keys.get('AKSVSECONDSECONDSEC0')?.namespace).toBe('ops');
    expect(lines.at(-1)).toMatch(/kept the access keys loaded before; .*keys\.0\.accessKeyId/);
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('a mistake stops the start-up with the field named and no secret; API changes are refused', () => {
    const file = join(fresh('bad'), 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ ...entry('AKSVBADBADBADBADBAD0'), namespace: 'No' }] }));
    expect(() => new MountedKeys(file, { log: noLog })).toThrow(
      /SERVAL_ACCESS_KEYS_FILE .*: keys\.0\.namespace/,
    );
    try {
      new MountedKeys(file, { log: noLog });
    } catch (err) {
      expect((err as Error).message).not.toContain(SECRET);
    }
    writeFileSync(file, JSON.stringify({ keys: [entry('AKSVGOODGOODGOODGOO0')] }));
    const keys = new AccessKeys({ file, dataDir: undefined, log: noLog });
    expect(() => keys.create({ namespace: 'ops', identity: 'x' }, new Date())).toThrow(
      /come from .*keys\.json/,
    );
    expect(() => keys.revoke('AKSVGOODGOODGOODGOO0')).toThrow(/come from/);
  });
});

describe('a gateway', () => {
  it('does not start with a broken key file, and says which field is wrong', async () => {
    const file = join(fresh('gateway'), 'keys.yaml');
    writeFileSync(file, 'keys:\n  - { accessKeyId: AKSVX }\n');
    await expect(startServal({ env: { SERVAL_ACCESS_KEYS_FILE: file } })).rejects.toThrow(
      /^SERVAL_ACCESS_KEYS_FILE .*keys\.yaml: keys\.0\.accessKeyId/,
    );
  });
});

describe('the auth config', () => {
  const issuer = (name: string) => ({
    name,
    issuer: 'https://i.test',
    audience: 'serval',
    staticKeys: [
      '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----',
    ],
    namespace: { fixed: 'a' },
  });

  it('reserves the issuer name "keys" and lets identity policies bind key groups as keys:<group>', () => {
    expect(() => parseAuthFile(JSON.stringify({ issuers: [issuer('keys')] }), '/x.json')).toThrow(
      /issuers\.0\.name: "keys" is reserved for Serval access keys/,
    );
    const settings = parseAuthFile(
      JSON.stringify({
        issuers: [issuer('corp')],
        identityPolicies: [
          { groups: ['keys:deployers'], statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
        ],
      }),
      '/x.json',
    );
    expect(settings.identityPolicies[0]!.groups).toEqual(['keys:deployers']);
  });
});
