// A nodejs* zip function's pod in in-process mode (ADR-58): one Node process that is both the agent's link
// and Serval's Node runtime (ADR-52), under the shell supervisor and its post-mortem (ADR-54), as the local
// provider runs it. pod.sh dials the link (so the supervisor holds it) and opens the container's memory
// cgroup files; everything else in the pod (volumes, variables, resources, the init CPU boost) is podFor's.
import type { V1Pod } from '@kubernetes/client-node';
import type { FunctionSpec } from '../apis/function.ts';
import type { ControllerConfig } from './config.ts';

/** The pod's first process, from the runtime image's /opt/serval (the shims are JavaScript there, ADR-56). */
export const IN_PROCESS_POD_COMMAND = '/bin/bash';
const POD_SCRIPT = 'runtime-shims/node/in-process/pod.sh';
const IN_PROCESS_MAIN = 'runtime-shims/node/in-process/main.js';

/**
 * Whether the controller gives this function an in-process pod: Node's managed runtimes from a zip only, and
 * over a ws:// link (pod.sh dials with bash, which speaks no TLS; a wss:// link keeps the agent).
 */
export function runsInProcess(spec: FunctionSpec, config: ControllerConfig): boolean {
  return (
    config.nodeInProcess &&
    config.linkUrl.startsWith('ws://') &&
    !spec.code.image &&
    (spec.runtime ?? '').startsWith('nodejs')
  );
}

/** Turns the pod podFor made (the agent as its one container) into an in-process one. */
export function asInProcessPod(pod: V1Pod, spec: FunctionSpec): V1Pod {
  const [container] = pod.spec!.containers;
  // Lambda's Node bootstrap caps the old generation at 90 % of the function's memory (runtime-command.ts).
  const heap = Math.floor((spec.memoryMB * 90) / 100);
  container!.command = [
    IN_PROCESS_POD_COMMAND,
    POD_SCRIPT,
    'node',
    `--max-old-space-size=${heap}`,
    IN_PROCESS_MAIN,
  ];
  return pod;
}
