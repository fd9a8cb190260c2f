// A real Kubernetes node for the end-to-end tests: Debian's containerd 1.6 and runc, the CNI bridge plugin and
// a kubelet built by build-binaries.sh, registered with the rig's API server. The images come from images.sh
// (no registry) and are imported into this node's containerd. Everything is this instance's own: socket,
// state, kubelet root, pod logs, cgroup root, bridge and /24, so two rigs on one machine do not collide.
// stop() takes it all down again — pods, shims, mounts, network namespaces, the bridge, cgroups — and puts
// back the sysctls the kubelet and the bridge plugin change. docs/kubernetes.md, "A real node".
import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../support/free-port.ts';
import { REPO_ROOT } from '../../support/serval.ts';
import { binaries, startProcess, stopProcess } from '../cluster.ts';

const run = promisify(execFile);

export const RUNTIME_IMAGE = 'localhost/serval-runtime:test';
export const SERVAL_IMAGE = 'localhost/serval:test';
const PAUSE_IMAGE = 'localhost/serval-pause:test';
const CNI_BIN = '/usr/lib/cni';

/**
 * The kubelet changes these at start (protectKernelDefaults off), the bridge plugin turns on forwarding;
 * stop() writes back what they were.
 */
const TOUCHED_SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
];

const tools = ['/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/runc', join(CNI_BIN, 'bridge')];

/** Why this machine cannot run a real node, or undefined when it can. */
export function realNodeMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const absent = [...tools, binaries.kubelet].filter((t) => !existsSync(t));
  if (absent.length) return `missing ${absent.join(', ')}`;
  for (const t of ['podman', 'debootstrap', 'gcc']) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      return `missing ${t}`;
    }
  }
  return undefined;
}

export interface RealNode {
  name: string;
  /** The bridge's address on the host: the node's InternalIP and the pods' gateway. */
  ip: string;
  /** Runs ctr against this node's containerd, in the kubelet's namespace. */
  ctr(args: string[]): Promise<string>;
  /** The container log the kubelet wrote for a pod, for a failing test's message. */
  podLog(namespace: string, pod: string): string;
  /** The serval image (the chart's pods) is imported in the background: resolves once it is there. */
  servalImage: Promise<void>;
  stop(): Promise<void>;
}

async function poll(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await Promise.resolve(probe()).catch(() => false))) {
    if (Date.now() > end) throw new Error(`real node: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A /24 in 10.244.0.0/16 that no route on this machine uses yet. */
function freeSubnet(): number {
  const routes = execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' });
  for (let i = 0; i < 50; i++) {
    const n = 100 + Math.floor(Math.random() * 150);
    if (!routes.includes(`10.244.${n}.`)) return n;
  }
  throw new Error('real node: no free 10.244.x.0/24');
}

function mountsUnder(prefixes: string[]): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => !!m && prefixes.some((p) => m === p || m.startsWith(`${p}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Pids whose command line names this node's containerd socket: its shims, which outlive containerd. */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('containerd-shim') && cmd.includes(socket)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/** What a node holds on the host, recorded in its state directory so that a later run can release it. */
interface Instance {
  owner: number;
  stateDir: string;
  dir: string;
  bridge: string;
  cgroupRoot: string;
  sysctls: Record<string, string>;
  pids: number[];
}

const STATE_PREFIX = '/run/serval-node-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Network namespaces no process is in any more (a live one may be another node's pod). */
function orphanedNetns(): string[] {
  if (!existsSync('/var/run/netns')) return [];
  const inUse = new Set<string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      inUse.add(readlinkSync(`/proc/${entry}/ns/net`));
    } catch {}
  }
  return readdirSync('/var/run/netns').filter((n) => {
    try {
      return n.startsWith('cni-') && !inUse.has(`net:[${statSync(`/var/run/netns/${n}`).ino}]`);
    } catch {
      return false;
    }
  });
}

/** Every process in the cgroups below the node's root, in any hierarchy. */
function cgroupPids(cgroupRoot: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line) pids.add(Number(line));
      }
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
      }
    } catch {}
  };
  for (const hierarchy of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
    walk(join('/sys/fs/cgroup', hierarchy, cgroupRoot));
  }
  return [...pids];
}

/**
 * Everything but the node's own processes: shims, what runs in its cgroups, network namespaces, mounts, the
 * bridge, cgroups, sysctls.
 */
async function releaseHost(instance: Instance): Promise<void> {
  const socket = `${instance.stateDir}/containerd.sock`;
  for (const pid of shimPids(socket)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  // A container outlives its shim: whatever still runs in the node's cgroups is killed there.
  for (let round = 0; round < 40; round++) {
    const pids = cgroupPids(instance.cgroupRoot);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const ns of orphanedNetns()) {
    await run('umount', [`/var/run/netns/${ns}`]).catch(() => undefined);
    rmSync(`/var/run/netns/${ns}`, { force: true });
  }
  for (const m of mountsUnder([instance.dir, instance.stateDir])) {
    await run('umount', ['-l', m]).catch(() => undefined);
  }
  await run('ip', ['link', 'del', instance.bridge]).catch(() => undefined);
  // The kubelet's cgroups (kubepods and its QoS classes) under this node's own root, in every hierarchy.
  for (const hierarchy of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
    const root = join('/sys/fs/cgroup', hierarchy, instance.cgroupRoot);
    if (existsSync(root)) {
      await run('find', [root, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']).catch(() => undefined);
    }
  }
  for (const [key, value] of Object.entries(instance.sysctls)) {
    await run('sysctl', ['-qw', `${key}=${value}`]).catch(() => undefined);
  }
  rmSync(instance.stateDir, { recursive: true, force: true });
}

/** A node whose test process died without stop() (a killed worker) is released by the next one. */
async function sweepStale(): Promise<void> {
  for (const entry of readdirSync('/run').filter((e) => `/run/${e}`.startsWith(STATE_PREFIX))) {
    let instance: Instance;
    try {
      instance = JSON.parse(readFileSync(`/run/${entry}/instance.json`, 'utf8'));
    } catch {
      continue;
    }
    if (alive(instance.owner)) continue;
    for (const pid of instance.pids) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(instance.dir)) process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await releaseHost(instance);
    rmSync(instance.dir, { recursive: true, force: true });
  }
}

/** Imports {pause,serval,runtime}.tar (images.sh builds them, warm runs only hash). */
export function buildImages(): string {
  return execFileSync('bash', [join(REPO_ROOT, 'test/kubernetes/node/images.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  }).trim();
}

/** Builds (or finds cached) a test's own function image from `dir`/Dockerfile FROM the base; its archive's path. */
export function buildFunctionImage(dir: string, tag: string): string {
  return execFileSync('bash', [join(REPO_ROOT, 'test/kubernetes/node/images.sh'), 'function', dir, tag], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  }).trim();
}

export interface RealNodePlan {
  id: string;
  subnet: number;
  /** The node's address: chosen before the API server starts, so that its certificate can name it. */
  ip: string;
}

export function planRealNode(): RealNodePlan {
  const subnet = freeSubnet();
  return { id: Math.random().toString(36).slice(2, 8), subnet, ip: `10.244.${subnet}.1` };
}

export async function startRealNode(options: {
  plan: RealNodePlan;
  name: string;
  kubeconfigPath: string;
  workDir: string;
}): Promise<RealNode> {
  const { name, kubeconfigPath } = options;
  const { id, subnet, ip } = options.plan;
  const dir = options.workDir;
  const stateDir = `/run/serval-node-${id}`;
  const socket = `${stateDir}/containerd.sock`;
  const bridge = `serval${id.slice(0, 6)}`;
  const cgroupRoot = `/serval-node-${id}`;
  for (const d of ['cni', 'cni-ipam', 'kubelet', 'pods', 'pki']) mkdirSync(join(dir, d), { recursive: true });
  await sweepStale();
  mkdirSync(stateDir, { recursive: true });
  const netnsBefore = new Set(existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : []);
  const sysctls = new Map<string, string>();
  for (const key of TOUCHED_SYSCTLS) {
    try {
      sysctls.set(key, execFileSync('sysctl', ['-n', key], { encoding: 'utf8' }).trim());
    } catch {}
  }
  let containerd: ChildProcess | undefined;
  let kubelet: ChildProcess | undefined;
  const instance: Instance = {
    owner: process.pid,
    stateDir,
    dir,
    bridge,
    cgroupRoot,
    sysctls: Object.fromEntries(sysctls),
    pids: [],
  };
  const record = () => writeFileSync(join(stateDir, 'instance.json'), JSON.stringify(instance));
  record(); // before the first change to the host
  const ctr = async (args: string[]) =>
    (await run('ctr', ['-a', socket, '-n', 'k8s.io', ...args], { maxBuffer: 16 << 20 })).stdout;

  const stop = async () => {
    // Pods first, through the kubelet, so that each sandbox's network is torn down by CNI.
    if (kubelet && kubelet.exitCode === null) {
      await run(binaries.kubectl, [
        '--kubeconfig',
        kubeconfigPath,
        'delete',
        'pods',
        '--all-namespaces',
        '--field-selector',
        `spec.nodeName=${name}`,
        '--grace-period=0',
        '--force',
        '--wait=false',
      ]).catch(() => undefined);
      await poll('the pods to stop', async () => !/RUNNING/.test(await ctr(['tasks', 'ls'])), 60_000).catch(
        () => undefined,
      );
      // Stopped sandboxes give back their network namespaces.
      await poll(
        'the pod sandboxes to release their network',
        () => readdirSync('/var/run/netns').every((n) => netnsBefore.has(n)),
        30_000,
      ).catch(() => undefined);
    }
    await stopProcess(kubelet, 10_000);
    // Whatever is left is killed where it runs.
    for (const line of (await ctr(['tasks', 'ls', '-q']).catch(() => '')).split('\n').filter(Boolean)) {
      await ctr(['tasks', 'kill', '-s', 'SIGKILL', line]).catch(() => undefined);
    }
    await stopProcess(containerd, 10_000);
    await releaseHost(instance);
  };

  let images = '';
  try {
    // The bridge exists before the kubelet starts: its address is the node's IP (the kubelet refuses
    // loopback), and the bridge plugin, finding it, adds the pods' veths to it.
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${ip}/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    // containerd's own CNI directory: the host's /etc/cni/net.d may hold podman's network.
    writeFileSync(
      join(dir, 'cni', '10-serval.conflist'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: `serval-${id}`,
        plugins: [
          {
            type: 'bridge',
            bridge,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: `10.244.${subnet}.0/24`, gateway: ip }]],
              dataDir: join(dir, 'cni-ipam'),
            },
          },
        ],
      }),
    );
    writeFileSync(
      join(dir, 'containerd.toml'),
      [
        'version = 2',
        `root = "${join(dir, 'containerd')}"`,
        `state = "${join(stateDir, 'containerd')}"`,
        `[grpc]\n  address = "${socket}"`,
        `[ttrpc]\n  address = "${socket}.ttrpc"`,
        `[plugins."io.containerd.internal.v1.opt"]\n  path = "${join(dir, 'opt')}"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        `  sandbox_image = "${PAUSE_IMAGE}"`,
        // No CAP_SYS_RESOURCE here: containerd may not lower a container's oom_score_adj below its own.
        '  restrict_oom_score_adj = true',
        '  [plugins."io.containerd.grpc.v1.cri".containerd]',
        '    snapshotter = "overlayfs"',
        '    default_runtime_name = "runc"',
        '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '      runtime_type = "io.containerd.runc.v2"',
        // cgroup v1 without systemd: runc with cgroupfs, the kubelet's driver too.
        '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        '        SystemdCgroup = false',
        '        BinaryName = "/usr/sbin/runc"',
        '  [plugins."io.containerd.grpc.v1.cri".cni]',
        `    bin_dir = "${CNI_BIN}"`,
        `    conf_dir = "${join(dir, 'cni')}"`,
        '',
      ].join('\n'),
    );
    containerd = startProcess(
      'containerd',
      ['--config', join(dir, 'containerd.toml')],
      join(dir, 'containerd.log'),
    );
    instance.pids.push(containerd.pid!);
    record();
    await poll('containerd', async () => await ctr(['version']).then(() => true), 30_000);
    images = buildImages();
    // Function pods need the pause and runtime images, imported beside the kubelet's start and
    // registration below; only the chart's pods (the last test) need serval, which follows in the background.
    const imported = Promise.all(
      ['pause', 'runtime'].map((image) => ctr(['images', 'import', join(images, `${image}.tar`)])),
    );
    imported.catch(() => undefined); // awaited below; a failure there stops the node

    // The kubelet's cgroups live under a root of this node's own, which must exist in every hierarchy.
    for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
      const root = join('/sys/fs/cgroup', hierarchy, cgroupRoot);
      mkdirSync(root, { recursive: true });
      if (hierarchy === 'cpuset') {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          writeFileSync(join(root, f), readFileSync(join('/sys/fs/cgroup/cpuset', f)));
        }
      }
    }
    const port = await freePort();
    writeFileSync(
      join(dir, 'kubelet.yaml'),
      JSON.stringify({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        cgroupDriver: 'cgroupfs',
        cgroupRoot,
        failSwapOn: false,
        failCgroupV1: false,
        containerRuntimeEndpoint: `unix://${socket}`,
        // Only this machine reaches the bridge; the API server fetches logs with no client certificate.
        authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
        authorization: { mode: 'AlwaysAllow' },
        address: ip,
        port,
        readOnlyPort: 0,
        healthzPort: 0,
        podLogsDir: join(dir, 'pods'),
        makeIPTablesUtilChains: false,
        protectKernelDefaults: false,
        // A shared test machine's disk and memory are not this node's to guard: no evictions, no image GC.
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: {
          'memory.available': '1Mi',
          'nodefs.available': '1%',
          'imagefs.available': '1%',
          'nodefs.inodesFree': '1%',
        },
        registerNode: true,
        maxPods: 60,
      }),
    );
    kubelet = startProcess(
      binaries.kubelet,
      [
        `--config=${join(dir, 'kubelet.yaml')}`,
        `--kubeconfig=${kubeconfigPath}`,
        `--hostname-override=${name}`,
        `--node-ip=${ip}`,
        `--root-dir=${join(dir, 'kubelet')}`,
        `--cert-dir=${join(dir, 'pki')}`,
      ],
      join(dir, 'kubelet.log'),
    );
    instance.pids.push(kubelet.pid!);
    record();
    await poll(
      `node ${name} Ready`,
      async () => {
        const { stdout } = await run(binaries.kubectl, [
          '--kubeconfig',
          kubeconfigPath,
          'get',
          'node',
          name,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        return stdout === 'True';
      },
      90_000,
    );
    await imported;
  } catch (err) {
    await stop();
    throw err;
  }
  const servalImage = ctr(['images', 'import', join(images, 'serval.tar')]).then(() => undefined);
  servalImage.catch(() => undefined); // the chart's test awaits it

  return {
    name,
    ip,
    ctr,
    servalImage,
    podLog(namespace, pod) {
      const root = join(dir, 'pods');
      const podDir = readdirSync(root).find((d) => d.startsWith(`${namespace}_${pod}_`));
      if (!podDir) return '';
      return readdirSync(join(root, podDir))
        .flatMap((c) =>
          readdirSync(join(root, podDir, c)).map((f) => readFileSync(join(root, podDir, c, f), 'utf8')),
        )
        .join('');
    },
    stop,
  };
}
