// Cluster mode's environment provider. The gateway does not create pods itself: it publishes the
// environments it wants (its demand), and the controller converges pods to that list. An environment the
// gateway stops — only ever an idle one, or one whose invocation already ended — leaves the list, and the
// controller deletes its pod. Each entry carries the environment's own link credential, which the
// LinkServer accepts for that one environment (so for that one function version) only. Beside the list, the
// gateway reports its provisioned concurrency allocations, which the controller writes on Alias status
// (ADR-51).
import type { EnvironmentSpec } from '../../../../apis/environment-link.ts';
import type { EnvironmentLaunch, EnvironmentProvider, LaunchedEnvironment } from '../provider.ts';

export interface DemandedEnvironment {
  environmentId: string;
  namespace: string;
  functionName: string;
  version: string;
  runtime: string;
  memoryMB: number;
  /** AWS_REGION: an image function's pod is given Lambda's variables by the controller, not by its agent. */
  region: string;
  /** Path on the gateway's link listener; the controller prefixes the listener's in-cluster URL. */
  linkPath: string;
  token: string;
  requestedAt: string;
  /** The agent finished its first init: the controller takes back the pod's init CPU boost (ADR-48). */
  initialised?: boolean;
  /** `provisioned-concurrency` for an environment kept initialised ahead (ADR-51): its pod is labelled so. */
  initializationType?: EnvironmentSpec['initializationType'];
}

/** One provisioned concurrency configuration as the gateway serves it, for its Alias's status. */
export interface ProvisionedReport {
  namespace: string;
  /** The Alias resource's name. */
  alias: string;
  functionName: string;
  qualifier: string;
  requested: number;
  allocated: number;
  status: 'IN_PROGRESS' | 'READY' | 'FAILED';
  statusReason?: string;
  /** RFC 3339. */
  lastModified: string;
}

interface Entry {
  demanded: DemandedEnvironment;
  end: (reason: string, outOfCapacity: boolean) => void;
}

export class DemandProvider implements EnvironmentProvider {
  private readonly entries = new Map<string, Entry>();
  private reports: () => ProvisionedReport[] = () => [];

  launch({ spec, token, linkUrl }: EnvironmentLaunch): LaunchedEnvironment {
    let end!: (reason: string) => void;
    let refused = false;
    const exited = new Promise<string>((resolve) => {
      end = resolve;
    });
    this.entries.set(spec.environmentId, {
      demanded: demanded(spec, token, linkUrl),
      end: (reason, outOfCapacity) => {
        refused = outOfCapacity;
        end(reason);
      },
    });
    return {
      exited,
      outOfCapacity: () => refused,
      stop: () => this.remove(spec.environmentId, 'stopped by the gateway'),
    };
  }

  /** What the controller should be running now. */
  list(): DemandedEnvironment[] {
    return [...this.entries.values()].map((e) => e.demanded);
  }

  /** Where provisioned(): reads from, once provisioned concurrency exists. */
  reportProvisioned(source: () => ProvisionedReport[]): void {
    this.reports = source;
  }

  /** The provisioned concurrency configurations on Alias resources, with their allocation. */
  provisioned(): ProvisionedReport[] {
    return this.reports();
  }

  /** The environment's agent reports its first init done. */
  initialised(environmentId: string): void {
    const entry = this.entries.get(environmentId);
    if (entry) entry.demanded.initialised = true;
  }

  /**
   * The controller saw the environment's pod fail or vanish before its agent linked; `outOfCapacity` when
   * a full node refused it.
   */
  gone(environmentId: string, reason: string, outOfCapacity = false): boolean {
    return this.remove(environmentId, reason, outOfCapacity);
  }

  async close(): Promise<void> {
    for (const id of [...this.entries.keys()]) this.remove(id, 'gateway shutdown');
  }

  private remove(environmentId: string, reason: string, outOfCapacity = false): boolean {
    const entry = this.entries.get(environmentId);
    if (!entry) return false;
    this.entries.delete(environmentId);
    entry.end(reason, outOfCapacity);
    return true;
  }
}

function demanded(spec: EnvironmentSpec, token: string, linkUrl: string): DemandedEnvironment {
  return {
    environmentId: spec.environmentId,
    namespace: spec.namespace,
    functionName: spec.functionName,
    version: spec.version,
    runtime: spec.runtime,
    memoryMB: spec.memoryMB,
    region: spec.region,
    linkPath: new URL(linkUrl).pathname,
    token,
    requestedAt: new Date().toISOString(),
    ...(spec.initializationType === 'provisioned-concurrency'
      ? { initializationType: spec.initializationType }
      : {}),
  };
}
