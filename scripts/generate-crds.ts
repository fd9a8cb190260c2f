// Writes charts/serval/crds/ from the zod schemas (`npm run crds`); `--check` only reports whether they are current.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFiles } from '../apis/crd-definitions.ts';

const dir = fileURLToPath(new URL('../charts/serval/crds/', import.meta.url));
const check = process.argv.includes('--check');
const files = crdFiles();
const stale: string[] = [];

for (const [name, text] of files) {
  let current: string | undefined;
  try {
    current = readFileSync(join(dir, name), 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  stale.push(name);
  if (!check) writeFileSync(join(dir, name), text);
}
// A CRD that no schema produces any more must not linger in the chart.
for (const name of readdirSync(dir)) {
  if (name.endsWith('.yaml') && !files.has(name)) {
    stale.push(name);
    if (!check) rmSync(join(dir, name));
  }
}

if (check && stale.length > 0) {
  console.error(`charts/serval/crds is out of date (${stale.join(', ')}); run npm run crds`);
  process.exitCode = 1;
} else {
  console.log(stale.length > 0 ? `updated ${stale.join(', ')}` : 'charts/serval/crds is up to date');
}
