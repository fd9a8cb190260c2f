// Names this gateway process so that what it leaves behind (environment directories, cgroups) can be told
// apart from what a live gateway still uses: the pid plus its start time, which a reused pid does not share.
import { readFileSync } from 'node:fs';

let instances = 0;

/**
 * `gw-<pid>-<start time in clock ticks>-<n>`: n tells apart the providers of one process (tests start
 * several gateways in one), whose leftovers must not be taken for each other's.
 */
export function instanceTag(pid = process.pid): string {
  instances += 1;
  return `gw-${pid}-${startTime(pid) ?? 0}-${instances}`;
}

/** Whether a name made by instanceTag belongs to a gateway process that is still running; undefined if not a tag. */
export function isLiveInstance(name: string): boolean | undefined {
  const match = /^gw-(\d+)-(\d+)-\d+$/.exec(name);
  if (!match) return undefined;
  const pid = Number(match[1]);
  if (process.platform === 'linux') return String(startTime(pid)) === match[2];
  try {
    process.kill(pid, 0); // no /proc: the pid alone decides
    return true;
  } catch {
    return false;
  }
}

function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces and parentheses, so count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}
