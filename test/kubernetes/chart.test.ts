// charts/serval: helm lint, values.schema.json, the rendered workloads' hardening and RBAC, and the rendered
// objects against a real kube-apiserver (server-side dry run, then a real helm install and `auth can-i`).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { REPO_ROOT } from '../support/serval.ts';
import { binaries, type Cluster, type CommandResult, clusterAvailable, startCluster } from './cluster.ts';

const CHART = join(REPO_ROOT, 'charts/serval');
const NS = 'serval-system';
const helmAvailable = existsSync(binaries.helm);

type Obj = Record<string, any>;

function helm(args: string[], kubeconfig?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      HELM_CACHE_HOME: join(REPO_ROOT, '.serval/helm-cache'),
      HELM_CONFIG_HOME: join(REPO_ROOT, '.serval/helm-config'),
    };
    const child = spawn(binaries.helm, [...args, ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])], {
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function render(...values: string[]): Promise<Obj[]> {
  const result = await helm(['template', 'serval', CHART, '-n', NS, ...values]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

const find = (objs: Obj[], kind: string, name: string): Obj => {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(`no ${kind} ${name} in ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
};
const container = (objs: Obj[], deployment: string): Obj =>
  find(objs, 'Deployment', deployment).spec.template.spec.containers[0];
const env = (c: Obj): Record<string, unknown> =>
  Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value ?? e.valueFrom]));

/** Every optional feature on (monitoring kinds included), for lint and for the dry run. */
const ALL_FEATURES = [
  '--set',
  'metrics.serviceMonitor.enabled=true',
  '--set',
  'metrics.prometheusRule.enabled=true',
  '--set',
  'grafana.dashboard.enabled=true',
  '--set',
  'async.queue=nats,async.natsUrl=nats://nats.nats.svc:4222,gateway.replicas=3',
  '--set',
  'gateway.persistence.existingClaim=serval-data,gateway.functionUrlDomain=fn.example.com',
  '--set',
  'linkKey.existingSecret=my-link-key,auth.accessKeysSecret=serval-access-keys',
  '--set-json',
  'auth.config={"issuers":[{"name":"k8s","kubernetes":true,"issuer":"https://kubernetes.default.svc.cluster.local","audience":"serval","jwksUrl":"https://kubernetes.default.svc/openid/v1/jwks"}]}',
  '--set-json',
  'networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]',
];

describe.skipIf(!helmAvailable)('charts/serval', () => {
  it('passes helm lint, with defaults and with every feature on', async () => {
    for (const values of [[], ALL_FEATURES, ['--set', 'metrics.podMonitor.enabled=true']]) {
      const result = await helm(['lint', '--strict', CHART, ...values]);
      expect(result.stdout + result.stderr, values.join(' ')).toContain('0 chart(s) failed');
      expect(result.code).toBe(0);
    }
  });

  it.each([
    ['an unknown key', ['--set', 'gateway.replica=2'], "at '/gateway': additional properties 'replica'"],
    ['several gateways on SQLite', ['--set', 'gateway.replicas=2'], "at '/gateway/replicas': maximum"],
    ['the NATS queue without a URL', ['--set', 'async.queue=nats'], "at '/async/natsUrl'"],
    ['a region outside [a-z0-9-]', ['--set', 'region=EU_West'], "at '/region'"],
    ['a queue backend that does not exist', ['--set', 'async.queue=redis'], "at '/async/queue'"],
    [
      'both scrape configurations',
      ['--set', 'metrics.serviceMonitor.enabled=true,metrics.podMonitor.enabled=true'],
      "at '/metrics/podMonitor/enabled'",
    ],
    ['a port out of range', ['--set', 'gateway.ports.http=70000'], "at '/gateway/ports/http': maximum"],
  ])('values.schema.json refuses %s, naming the value', async (_what, values, where) => {
    const result = await helm(['template', 'serval', CHART, '-n', NS, ...values]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(where);
  });

  it('renders the workloads, their Services and RBAC', async () => {
    const objs = await render();
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/serval-controller',
      'ClusterRole/serval-gateway',
      'ClusterRoleBinding/serval-controller',
      'ClusterRoleBinding/serval-gateway',
      'Deployment/serval-controller',
      'Deployment/serval-gateway',
      'NetworkPolicy/serval-gateway',
      'Role/serval-leader-election',
      'RoleBinding/serval-leader-election',
      'Secret/serval-link-key',
      'Service/serval-gateway',
      'Service/serval-gateway-link',
      'Service/serval-gateway-metrics',
      'ServiceAccount/serval-controller',
      'ServiceAccount/serval-gateway',
    ]);
    for (const o of objs.filter((o) => !o.kind.startsWith('Cluster')))
      expect(o.metadata.namespace, o.kind).toBe(NS);
    const ports = (name: string) =>
      find(objs, 'Service', name).spec.ports.map((p: Obj) => [p.name, p.port, p.targetPort]);
    expect(ports('serval-gateway')).toEqual([['http', 8080, 'http']]);
    expect(ports('serval-gateway-link')).toEqual([['link', 8081, 'link']]);
    expect(ports('serval-gateway-metrics')).toEqual([['metrics', 9464, 'metrics']]);
    expect(find(objs, 'Deployment', 'serval-controller').spec.replicas).toBe(2);
    expect(find(objs, 'Deployment', 'serval-gateway').spec.replicas).toBe(1);
  });

  it('runs both containers non-root, read-only, without capabilities, with /tmp and the data dir as emptyDirs', async () => {
    const objs = await render();
    for (const name of ['serval-controller', 'serval-gateway']) {
      const pod = find(objs, 'Deployment', name).spec.template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const c = pod.containers[0];
      expect(c.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 10001,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(c.workingDir).toBe('/opt/serval');
      expect(c.resources.requests).toBeDefined();
      expect(c.resources.limits.memory).toBeDefined();
      const mounts = Object.fromEntries(c.volumeMounts.map((m: Obj) => [m.mountPath, m.name]));
      expect(mounts['/tmp']).toBe('tmp');
      expect(mounts['/var/lib/serval']).toBe('data');
      const volumes = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v]));
      expect(volumes.tmp.emptyDir).toEqual({});
      expect(volumes.data.emptyDir).toEqual({});
      expect(pod.serviceAccountName).toBe(name);
    }
  });

  it('starts the gateway and the controller with the agreed commands, environment and probes', async () => {
    const objs = await render();
    const gateway = container(objs, 'serval-gateway');
    expect(gateway.image).toBe('ghcr.io/serval-dev/serval:0.1.0');
    expect(gateway.args).toEqual(['node', 'bin/serval.mjs', 'gateway']);
    expect(gateway.ports.map((p: Obj) => [p.name, p.containerPort])).toEqual([
      ['http', 8080],
      ['link', 8081],
      ['metrics', 9464],
    ]);
    const linkKey = { secretKeyRef: { name: 'serval-link-key', key: 'link-key' } };
    expect(env(gateway)).toEqual({
      SERVAL_MODE: 'kubernetes',
      SERVAL_HOST: '0.0.0.0',
      SERVAL_PORT: '8080',
      SERVAL_INTERNAL_HOST: '0.0.0.0',
      SERVAL_INTERNAL_PORT: '8081',
      SERVAL_METRICS_PORT: '9464',
      SERVAL_DATA_DIR: '/var/lib/serval',
      SERVAL_REGION: 'local',
      SERVAL_LOG_FORMAT: 'json',
      SERVAL_QUEUE: 'sqlite',
      SERVAL_LINK_KEY: linkKey,
    });
    for (const probe of [gateway.readinessProbe, gateway.livenessProbe])
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'link' });

    const controller = container(objs, 'serval-controller');
    expect(controller.args).toEqual(['node', 'bin/serval.mjs', 'controller']);
    expect(env(controller)).toEqual({
      SERVAL_LINK_KEY: linkKey,
      SERVAL_GATEWAY_URL: 'http://serval-gateway-link.serval-system.svc:8081',
      SERVAL_LINK_URL: 'ws://serval-gateway-link.serval-system.svc:8081',
      SERVAL_RUNTIME_IMAGE: 'ghcr.io/serval-dev/serval-runtime:0.1.0',
      SERVAL_LEASE_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      SERVAL_HEALTH_PORT: '8082',
      SERVAL_LOG_FORMAT: 'json',
      // A heap limit under the pod's memory limit (controller.maxHeapMiB), and the region for status.url.
      NODE_OPTIONS: '--max-old-space-size=256',
      SERVAL_REGION: 'local',
      // Function pods' CPU limit during init (controller.initCpuMillicores, ADR-48).
      SERVAL_INIT_CPU_MILLICORES: '1000',
      // nodejs* zip functions' pods keep the agent unless controller.nodeInProcess (ADR-58).
      SERVAL_NODE_IN_PROCESS: 'off',
    });
    expect(controller.ports).toEqual([{ name: 'health', containerPort: 8082 }]);
    for (const probe of [controller.readinessProbe, controller.livenessProbe])
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'health' });
  });

  it('turns in-process Node pods on with controller.nodeInProcess=true (ADR-58)', async () => {
    const objs = await render('--set', 'controller.nodeInProcess=true');
    expect(env(container(objs, 'serval-controller')).SERVAL_NODE_IN_PROCESS).toBe('on');
    const refused = await helm([
      'template',
      'serval',
      CHART,
      '-n',
      NS,
      '--set',
      'controller.nodeInProcess=maybe',
    ]);
    expect(refused.stderr).toContain("at '/controller/nodeInProcess'");
  });

  it('wires the optional features: NATS, auth config, an existing link key, a data volume', async () => {
    const objs = await render(...ALL_FEATURES);
    const gateway = container(objs, 'serval-gateway');
    expect(env(gateway)).toMatchObject({
      SERVAL_QUEUE: 'nats',
      SERVAL_NATS_URL: 'nats://nats.nats.svc:4222',
      SERVAL_AUTH_CONFIG: '/etc/serval/auth.yaml',
      SERVAL_ACCESS_KEYS_FILE: '/etc/serval-keys/keys.yaml',
      SERVAL_FUNCTION_URL_DOMAIN: 'fn.example.com',
      SERVAL_LINK_KEY: { secretKeyRef: { name: 'my-link-key', key: 'link-key' } },
    });
    expect(objs.some((o) => o.kind === 'Secret')).toBe(false);
    const auth = find(objs, 'ConfigMap', 'serval-auth');
    expect(parseAllDocuments(auth.data['auth.yaml'])[0]!.toJS().issuers[0].name).toBe('k8s');
    const deployment = find(objs, 'Deployment', 'serval-gateway');
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    const volumes = Object.fromEntries(deployment.spec.template.spec.volumes.map((v: Obj) => [v.name, v]));
    expect(volumes.data.persistentVolumeClaim).toEqual({ claimName: 'serval-data' });
    expect(volumes.auth.configMap).toEqual({ name: 'serval-auth' });
    expect(gateway.volumeMounts).toContainEqual({ name: 'auth', mountPath: '/etc/serval', readOnly: true });
    expect(volumes['access-keys'].secret).toEqual({ secretName: 'serval-access-keys', defaultMode: 0o440 });
    expect(gateway.volumeMounts).toContainEqual({
      name: 'access-keys',
      mountPath: '/etc/serval-keys',
      readOnly: true,
    });
    // The gateway reads the auth file once, so a change must roll its pods.
    const before = (await render()).find(
      (o) => o.metadata.name === 'serval-gateway' && o.kind === 'Deployment',
    )!;
    expect(deployment.spec.template.metadata.annotations['checksum/auth-config']).not.toBe(
      before.spec.template.metadata.annotations['checksum/auth-config'],
    );
    for (const kind of ['ServiceMonitor', 'PrometheusRule', 'ConfigMap'])
      expect(
        objs.some((o) => o.kind === kind),
        kind,
      ).toBe(true);
  });

  it('generates a link key', async () => {
    const secret = find(await render(), 'Secret', 'serval-link-key');
    expect(Buffer.from(secret.data['link-key'], 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
  });

  it('grants least privilege: no wildcards, no cluster-admin, no Secrets, a gateway that writes only mappings and what the Lambda API changes', async () => {
    const objs = await render(...ALL_FEATURES);
    const roles = objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    expect(roles.length).toBe(3);
    for (const role of roles) {
      for (const rule of role.rules) {
        for (const key of ['verbs', 'resources', 'apiGroups'])
          expect(rule[key], `${role.metadata.name} ${key}`).not.toContain('*');
        expect(rule.resources, role.metadata.name).not.toContain('secrets');
        expect(rule.nonResourceURLs).toBeUndefined();
      }
    }
    for (const binding of objs.filter((o) => o.kind.endsWith('Binding'))) {
      expect(['cluster-admin', 'admin', 'edit']).not.toContain(binding.roleRef.name);
      expect(binding.roleRef.name).toBe(binding.metadata.name);
      for (const s of binding.subjects) {
        expect(s).toMatchObject({ kind: 'ServiceAccount', namespace: NS });
        expect(['serval-controller', 'serval-gateway']).toContain(s.name);
      }
    }
    // The gateway reads; it writes only what the event source mappings it runs need (the mapping API,
    // their status and Events) and what the Lambda API changes (Functions, Aliases, uploaded code), never
    // the controller's pods, versions or status.
    const gatewayRules = find(objs, 'ClusterRole', 'serval-gateway').rules as Obj[];
    const writes = gatewayRules.filter((r) =>
      r.verbs.some((v: string) => !['get', 'list', 'watch'].includes(v)),
    );
    expect(new Set(writes.flatMap((r) => r.resources))).toEqual(
      new Set([
        'eventsourcemappings',
        'eventsourcemappings/status',
        'events',
        'functions',
        'aliases',
        'configmaps',
      ]),
    );
    const lease = find(objs, 'Role', 'serval-leader-election');
    expect(lease.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);
  });

  it('lets the gateway get Secrets only in the namespaces listed for event source mappings', async () => {
    const objs = await render('--set', 'gateway.eventSourceSecrets.namespaces={orders,billing}');
    const roles = objs.filter((o) => o.kind === 'Role' && o.metadata.name === 'serval-gateway-secrets');
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['billing', 'orders']);
    for (const role of roles)
      expect(role.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]);
    const bindings = objs.filter(
      (o) => o.kind === 'RoleBinding' && o.metadata.name === 'serval-gateway-secrets',
    );
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['billing', 'orders']);
    for (const b of bindings)
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'serval-gateway', namespace: NS }]);
    // No cluster-wide Secret access, whatever is listed.
    for (const role of objs.filter((o) => o.kind === 'ClusterRole'))
      for (const rule of role.rules) expect(rule.resources).not.toContain('secrets');
  });

  it('fences the gateway with a NetworkPolicy that does not select the controller', async () => {
    const objs = await render();
    const policy = find(objs, 'NetworkPolicy', 'serval-gateway');
    const selects = (labels: Record<string, string>) =>
      Object.entries(policy.spec.podSelector.matchLabels as Record<string, string>).every(
        ([k, v]) => labels[k] === v,
      );
    expect(selects(find(objs, 'Deployment', 'serval-gateway').spec.template.metadata.labels)).toBe(true);
    expect(selects(find(objs, 'Deployment', 'serval-controller').spec.template.metadata.labels)).toBe(false);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const byPort = Object.fromEntries(policy.spec.ingress.map((r: Obj) => [r.ports[0].port, r.from]));
    expect(byPort.http).toBeUndefined();
    expect(byPort.link).toHaveLength(2);
    expect(byPort.link[0].podSelector.matchExpressions).toEqual([
      { key: 'serval.dev/function', operator: 'Exists' },
    ]);
    expect(
      (await render('--set', 'networkPolicy.enabled=false')).some((o) => o.kind === 'NetworkPolicy'),
    ).toBe(false);
  });
});

/** Just enough of the Prometheus Operator's CRDs for the API server to take its kinds in a dry run. */
const MONITORING_STUBS = [
  ['ServiceMonitor', 'servicemonitors'],
  ['PodMonitor', 'podmonitors'],
  ['PrometheusRule', 'prometheusrules'],
].map(([kind, plural]) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.monitoring.coreos.com` },
  spec: {
    group: 'monitoring.coreos.com',
    names: { kind, plural, listKind: `${kind}List`, singular: kind!.toLowerCase() },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
}));

describe.skipIf(!clusterAvailable || !helmAvailable)('charts/serval on a real kube-apiserver', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster();
    const stubs = await cluster.kubectl(
      ['apply', '-f', '-'],
      MONITORING_STUBS.map((s) => stringify(s)).join('---\n'),
    );
    expect(stubs.code, stubs.stderr).toBe(0);
    const crds = await cluster.kubectl(['apply', '-f', join(CHART, 'crds')]);
    expect(crds.code, crds.stderr).toBe(0);
    const wait = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd',
      '--all',
    ]);
    expect(wait.code, wait.stderr).toBe(0);
    expect((await cluster.kubectl(['create', 'namespace', 'dry-run'])).code).toBe(0);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it.each([
    ['defaults', []],
    ['every feature on (monitoring kinds against stub CRDs)', ALL_FEATURES],
    ['the PodMonitor', ['--set', 'metrics.podMonitor.enabled=true']],
  ])('the API server accepts what helm renders: %s', async (_what, values) => {
    const rendered = await helm(['template', 'serval', CHART, '-n', 'dry-run', ...values]);
    expect(rendered.code, rendered.stderr).toBe(0);
    const applied = await cluster.kubectl(
      ['apply', '--dry-run=server', '-n', 'dry-run', '-f', '-'],
      rendered.stdout,
    );
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('deployment.apps/serval-gateway created (server dry run)');
  });

  it('installs with helm, keeps the link key across upgrades, and its ServiceAccounts can do their jobs and no more', async () => {
    const install = await helm(
      ['install', 'serval', CHART, '-n', NS, '--create-namespace'],
      cluster.kubeconfigPath,
    );
    expect(install.stderr).toBe('');
    expect(install.code).toBe(0);
    const key = async () =>
      JSON.parse((await cluster.kubectl(['get', 'secret', 'serval-link-key', '-n', NS, '-o', 'json'])).stdout)
        .data['link-key'];
    const first = await key();
    expect(first).toBeTruthy();
    const upgrade = await helm(
      ['upgrade', 'serval', CHART, '-n', NS, '--set', 'region=eu-west-1'],
      cluster.kubeconfigPath,
    );
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(await key()).toBe(first);

    const canI = async (sa: string, ...args: string[]) => {
      const r = await cluster.kubectl(['auth', 'can-i', `--as=system:serviceaccount:${NS}:${sa}`, ...args]);
      return r.stdout.trim();
    };
    const controller = (...args: string[]) => canI('serval-controller', ...args);
    const gateway = (...args: string[]) => canI('serval-gateway', ...args);
    // The controller: environment pods and its children anywhere, status, its Lease at home.
    expect(await controller('create', 'pods', '-n', 'media')).toBe('yes');
    expect(await controller('delete', 'pods', '-n', 'media')).toBe('yes');
    expect(await controller('patch', 'functions.serval.dev', '--subresource=status', '-n', 'media')).toBe(
      'yes',
    );
    expect(
      await controller('update', 'functions.serval.dev', '--subresource=finalizers', '-n', 'media'),
    ).toBe('yes');
    expect(await controller('create', 'controllerrevisions.apps', '-n', 'media')).toBe('yes');
    expect(await controller('create', 'configmaps', '-n', 'media')).toBe('yes');
    expect(await controller('create', 'networkpolicies.networking.k8s.io', '-n', 'media')).toBe('yes');
    expect(await controller('create', 'events.events.k8s.io', '-n', 'media')).toBe('yes');
    expect(await controller('update', 'leases.coordination.k8s.io', '-n', NS)).toBe('yes');
    // … and nothing else.
    expect(await controller('update', 'leases.coordination.k8s.io', '-n', 'media')).toBe('no');
    expect(await controller('get', 'secrets', '-n', 'media')).toBe('no');
    expect(await controller('delete', 'functions.serval.dev', '-n', 'media')).toBe('no');
    expect(await controller('update', 'pods', '-n', 'media')).toBe('no');
    expect(await controller('create', 'deployments.apps', '-n', 'media')).toBe('no');
    expect(await controller('create', 'clusterroles.rbac.authorization.k8s.io')).toBe('no');
    // The gateway reads, and writes what the Lambda API changes (ADR-39): Functions, Aliases, code.
    expect(await gateway('watch', 'functions.serval.dev', '-n', 'media')).toBe('yes');
    expect(await gateway('list', 'controllerrevisions.apps', '-n', 'media')).toBe('yes');
    expect(await gateway('get', 'configmaps', '-n', 'media')).toBe('yes');
    expect(await gateway('update', 'functions.serval.dev', '-n', 'media')).toBe('yes');
    expect(await gateway('create', 'aliases.serval.dev', '-n', 'media')).toBe('yes');
    expect(await gateway('create', 'configmaps', '-n', 'media')).toBe('yes');
    // … but never pods, versions or the controller's status.
    expect(await gateway('create', 'pods', '-n', 'media')).toBe('no');
    expect(await gateway('create', 'controllerrevisions.apps', '-n', 'media')).toBe('no');
    expect(await gateway('patch', 'functions.serval.dev', '--subresource=status', '-n', 'media')).toBe('no');
    expect(await gateway('get', 'secrets', '-n', NS)).toBe('no');
    expect(await gateway('update', 'leases.coordination.k8s.io', '-n', NS)).toBe('no');
  });
});
