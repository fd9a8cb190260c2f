// The data directory holds queued payloads, logs with request ids, versions with environment values and
// published code: only the gateway's user may read it. New files get 0600 and directories 0700 (umask);
// a directory left by an older, laxer gateway is tightened once. What is not the gateway user's is left
// alone: in a pod the data directory is a volume's mount point, root's with the pod's fsGroup, which the
// kubelet made and only root may chmod (the chart's pod holds no other user).
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const PRIVATE_UMASK = 0o077;

export function preparePrivateDataDir(dataDir: string): void {
  process.umask(PRIVATE_UMASK);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if ((lstatSync(dataDir).mode & 0o077) !== 0) tighten(dataDir);
}

/** Takes group and other permissions away from everything below dir (symbolic links are left alone). */
function tighten(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if (stat.uid === process.getuid?.()) chmodSync(path, stat.mode & 0o7700);
  if (stat.isDirectory()) for (const name of readdirSync(path)) tighten(join(path, name));
}
