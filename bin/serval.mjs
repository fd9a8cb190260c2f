#!/usr/bin/env node
// The serval command (`npx serval …` in a clone). Node 24 runs the TypeScript sources directly (type
// stripping); under an older `node` it hands over to scripts/node24.sh, which installs Node 24 once into
// the user's cache, as `npm start` does.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

if (Number(process.versions.node.split('.')[0]) < 24) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const run = spawnSync(
    'sh',
    [`${root}scripts/node24.sh`, `${root}bin/serval.mjs`, ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  process.exit(run.status ?? 1);
}
const { main } = await import('../cli/main.ts');
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
