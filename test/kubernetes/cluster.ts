// A real Kubernetes control plane for tests: etcd and kube-apiserver (built by build-binaries.sh), RBAC on,
// TLS with certificates made here by openssl, an admin kubeconfig with a client certificate in
// system:masters, and ServiceAccount tokens through the TokenRequest API. There is no scheduler, kubelet
// or controller-manager: the test node agent (node-agent.ts) plays the kubelet for Serval's pods.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ExitedEarly, onFreshPorts } from '../support/free-port.ts';
import { testDataRoot } from '../support/serval.ts';

const run = promisify(execFile);
const BIN = join(process.env.SERVAL_CACHE ?? join(homedir(), '.cache/serval'), 'k8s');
export const binaries = {
  etcd: join(BIN, 'etcd'),
  apiserver: join(BIN, 'kube-apiserver'),
  kubectl: join(BIN, 'kubectl'),
  helm: join(BIN, 'helm'),
  kubelet: join(BIN, 'kubelet'),
};

/** Whether the rig's binaries are built; in CI they must be (.ci/run builds them). */
export const clusterAvailable = [binaries.etcd, binaries.apiserver, binaries.kubectl].every((b) =>
  existsSync(b),
);
if (!clusterAvailable && process.env.CI) {
  throw new Error(
    `Kubernetes test binaries missing under ${BIN}: run bash test/kubernetes/build-binaries.sh`,
  );
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  server: string;
  /** The CA that signed the API server's serving certificate (PEM). */
  servingCa: string;
  /** Admin kubeconfig (client certificate in system:masters), as YAML and as a file. */
  kubeconfig: string;
  kubeconfigPath: string;
  kubectl(args: string[], input?: string): Promise<CommandResult>;
  /** A kubeconfig that authenticates as a ServiceAccount with a TokenRequest token. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  /** Stops and starts kube-apiserver on the same port and etcd: clients see the server go away. */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** Serving CA + cert (127.0.0.1, localhost), client CA + admin cert, and the ServiceAccount signing key. */
async function makeCertificates(dir: string, servingIPs: string[]): Promise<void> {
  const ca = async (name: string, cn: string) =>
    openssl(
      dir,
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '7',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  await ca('serving-ca', 'serval-test-serving-ca');
  await ca('client-ca', 'serval-test-client-ca');
  const leaf = async (name: string, issuer: string, subject: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    await openssl(
      dir,
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    await openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.crt`,
      '-CAkey',
      `${issuer}.key`,
      '-CAcreateserial',
      '-days',
      '7',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  };
  await leaf(
    'apiserver',
    'serving-ca',
    '/CN=kube-apiserver',
    `subjectAltName=${['127.0.0.1', ...servingIPs].map((ip) => `IP:${ip}`).join(',')},DNS:localhost\nextendedKeyUsage=serverAuth\n`,
  );
  await leaf('admin', 'client-ca', '/O=system:masters/CN=serval-test-admin', 'extendedKeyUsage=clientAuth\n');
  await openssl(dir, 'genrsa', '-out', 'sa.key', '2048');
  await openssl(dir, 'rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
}

/** Waits for `url` to answer 200; gives up at once if `child` exits first. */
function waitFor(
  url: string,
  caFile: string | undefined,
  timeoutMs: number,
  what: string,
  child?: ChildProcess,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  const attempt = (): Promise<boolean> =>
    new Promise((resolve) => {
      if (!caFile) {
        fetch(url).then(
          (r) => resolve(r.ok),
          () => resolve(false),
        );
        return;
      }
      const req = request(url, { ca: readFileSync(caFile), timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
  return (async () => {
    while (Date.now() < until) {
      if (child && (child.exitCode !== null || child.signalCode !== null)) {
        throw new ExitedEarly(
          `${what} exited (${child.exitCode ?? child.signalCode}) before it was ready at ${url}`,
        );
      }
      if (await attempt()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${what} did not become ready at ${url} within ${timeoutMs} ms`);
  })();
}

/** Starts a rig process; its output goes to `log` when it exits. */
export function startProcess(command: string, args: string[], log: string): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout?.on('data', (c) => out.push(c));
  child.stderr?.on('data', (c) => out.push(c));
  child.once('exit', () => writeFileSync(log, Buffer.concat(out)));
  return child;
}

export function stopProcess(child: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
  });
}

/** `servingIPs`: more addresses the serving certificate names, for pods that reach the API through a proxy. */
export async function startCluster(options: { servingIPs?: string[] } = {}): Promise<Cluster> {
  if (!clusterAvailable) throw new Error(`Kubernetes test binaries missing under ${BIN}`);
  const dir = mkdtempSync(join(testDataRoot(), 'k8s-'));
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  await makeCertificates(certs, options.servingIPs ?? []);
  const { etcd, etcdUrl } = await onFreshPorts(2, async ([etcdPort, peerPort]) => {
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = startProcess(
      binaries.etcd,
      [
        `--data-dir=${join(dir, `etcd-${etcdPort}`)}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        '--unsafe-no-fsync=true',
      ],
      join(dir, `etcd-${etcdPort}.log`),
    );
    await waitFor(`${etcdUrl}/health`, undefined, 20_000, 'etcd', etcd);
    return { etcd, etcdUrl };
  });

  const serverAt = (apiPort: number) => `https://127.0.0.1:${apiPort}`;
  const apiArgs = (apiPort: number) => [
    `--etcd-servers=${etcdUrl}`,
    `--secure-port=${apiPort}`,
    '--bind-address=127.0.0.1',
    `--tls-cert-file=${join(certs, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(certs, 'apiserver.key')}`,
    `--client-ca-file=${join(certs, 'client-ca.crt')}`,
    '--authorization-mode=RBAC',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    // No controller-manager makes the `default` ServiceAccount, so its admission plugin would refuse pods.
    '--disable-admission-plugins=ServiceAccount',
    `--service-account-issuer=${serverAt(apiPort)}`,
    `--service-account-key-file=${join(certs, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(certs, 'sa.key')}`,
    `--cert-dir=${certs}`,
    // A real node (node/real-node.ts) is reached at its InternalIP, the only address it reports.
    '--kubelet-preferred-address-types=InternalIP',
  ];
  let apiserver: ChildProcess | undefined;
  const startApi = async (apiPort: number) => {
    apiserver = startProcess(binaries.apiserver, apiArgs(apiPort), join(dir, `apiserver-${Date.now()}.log`));
    await waitFor(
      `${serverAt(apiPort)}/readyz`,
      join(certs, 'serving-ca.crt'),
      60_000,
      'kube-apiserver',
      apiserver,
    );
    return apiPort;
  };
  // A restart keeps the port its clients were given.
  const apiPort = await onFreshPorts(1, ([port]) => startApi(port as number));
  const server = serverAt(apiPort);

  const kubeconfigFor = (user: Record<string, string>) =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: rig\n  cluster:\n    server: ${server}\n    certificate-authority-data: ${b64(join(certs, 'serving-ca.crt'))}`,
      'users:',
      `- name: user\n  user:\n${Object.entries(user)
        .map(([k, v]) => `    ${k}: ${v}`)
        .join('\n')}`,
      'contexts:',
      '- name: rig\n  context:\n    cluster: rig\n    user: user',
      'current-context: rig',
      '',
    ].join('\n');
  const kubeconfig = kubeconfigFor({
    'client-certificate-data': b64(join(certs, 'admin.crt')),
    'client-key-data': b64(join(certs, 'admin.key')),
  });
  const kubeconfigPath = join(dir, 'admin.kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfig);

  const kubectl = (args: string[], input?: string): Promise<CommandResult> =>
    new Promise((resolve) => {
      const child = spawn(binaries.kubectl, ['--kubeconfig', kubeconfigPath, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      // kubectl may exit before reading its stdin (a get needs none); that EPIPE is not the test's failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input ?? '');
    });

  // The apiserver creates `default` shortly after it is ready; tests create things in it.
  const until = Date.now() + 30_000;
  while ((await kubectl(['get', 'namespace', 'default'])).code !== 0) {
    if (Date.now() > until) throw new Error('namespace default never appeared');
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    server,
    servingCa: readFileSync(join(certs, 'serving-ca.crt'), 'utf8'),
    kubeconfig,
    kubeconfigPath,
    kubectl,
    async serviceAccountKubeconfig(namespace, name) {
      const token = await kubectl(['create', 'token', name, '-n', namespace, '--duration=2h']);
      if (token.code !== 0) throw new Error(`cannot get a token for ${namespace}/${name}: ${token.stderr}`);
      return kubeconfigFor({ token: token.stdout.trim() });
    },
    async restartApiServer() {
      await stopProcess(apiserver);
      await startApi(apiPort);
    },
    async stop() {
      await stopProcess(apiserver);
      await stopProcess(etcd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function b64(file: string): string {
  return readFileSync(file).toString('base64');
}
