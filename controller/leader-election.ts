// Leader election through a coordination.k8s.io Lease, so two controller replicas never reconcile at once.
// The holder renews every `renewMs`; another replica takes over once the lease has not been renewed for its
// duration. Writes carry the resourceVersion they read, so two candidates cannot both win.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeError, requestJson } from '../kube/request.ts';

const LEASE_SECONDS = 15;

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    renewTime?: string;
    acquireTime?: string;
    leaseTransitions?: number;
  };
}

export class LeaderElection {
  private readonly kc: KubeConfig;
  private readonly namespace: string;
  private readonly name: string;
  private readonly identity: string;
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;

  constructor(
    kc: KubeConfig,
    namespace: string,
    name: string,
    identity: string,
    log: (line: string) => void,
  ) {
    this.kc = kc;
    this.namespace = namespace;
    this.name = name;
    this.identity = identity;
    this.log = log;
  }

  /** Calls `onStart` when this replica becomes leader and `onStop` if it loses the lease. */
  run(onStart: () => void, onStop: () => void, renewMs = 5000): void {
    const tick = async () => {
      const held = await this.tryAcquireOrRenew().catch((err) => {
        this.log(`lease ${this.namespace}/${this.name}: ${err instanceof Error ? err.message : String(err)}`);
        return false;
      });
      if (held && !this.leading) {
        this.leading = true;
        this.log(`became leader (${this.identity})`);
        onStart();
      } else if (!held && this.leading) {
        this.leading = false;
        this.log(`lost the lease (${this.identity})`);
        onStop();
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), renewMs);
    };
    void tick();
  }

  /** Stops renewing; a leader also gives the lease up, so another replica takes over at once. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = (await requestJson(this.kc, this.path(this.name))) as Lease;
      if (lease.spec.holderIdentity !== this.identity) return;
      await requestJson(this.kc, this.path(this.name), {
        method: 'PUT',
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', renewTime: micro(new Date(0)) } },
      });
    } catch (err) {
      this.log(`releasing the lease: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private path(name = ''): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.namespace}/leases${name ? `/${name}` : ''}`;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: LEASE_SECONDS,
      renewTime: micro(now),
    };
    let lease: Lease;
    try {
      lease = (await requestJson(this.kc, this.path(this.name))) as Lease;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
      await requestJson(this.kc, this.path(), {
        method: 'POST',
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.name, namespace: this.namespace },
          spec: { ...spec, acquireTime: micro(now), leaseTransitions: 0 },
        },
      });
      return true;
    }
    const holder = lease.spec.holderIdentity;
    const renewed = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = renewed + (lease.spec.leaseDurationSeconds ?? LEASE_SECONDS) * 1000 < now.getTime();
    if (holder && holder !== this.identity && !expired) return false;
    const transitions = (lease.spec.leaseTransitions ?? 0) + (holder === this.identity ? 0 : 1);
    try {
      await requestJson(this.kc, this.path(this.name), {
        method: 'PUT',
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            ...spec,
            leaseTransitions: transitions,
            acquireTime: holder === this.identity ? lease.spec.acquireTime : micro(now),
          },
        },
      });
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return false; // someone else wrote first
      throw err;
    }
    return true;
  }
}

/** MicroTime, as Lease fields require. */
function micro(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
