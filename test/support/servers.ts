// Whether a server binary the tests start is installed. scripts/test-servers.sh installs them where it can;
// outside CI a missing one skips the tests that need it, in CI it fails the run at once.
import { spawnSync } from 'node:child_process';

export function serverAvailable(binary: string, debianPackage: string): boolean {
  const available = spawnSync(binary, ['--version']).status === 0;
  if (!available && process.env.CI) {
    throw new Error(`${binary} is missing: apt-get install ${debianPackage}`);
  }
  return available;
}
