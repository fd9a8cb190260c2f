// Generic pre-warmed environments (ADR-50): for each runtime profile (runtime and memory) that has had a cold
// start lately, up to `perProfile` environments wait with their process started, sandbox built, agent up and
// Serval's own runtime loaded, but no function. A cold start takes one and specialises it for its function,
// whose it then is for life; the pool starts a new generic one in its place. They belong to no function
// until taken, so they count against no function's concurrency.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { EnvironmentSpec } from '../../../apis/environment-link.ts';
import type { LaunchedEnvironment } from '../providers/provider.ts';

export interface GenericLaunch {
  runtime: string;
  memoryMB: number;
  environmentId: string;
  /** ws:// URL the agent's link names and the credential it presents, once it has its function. */
  linkUrl: string;
  token: string;
  /** Where the environment's link goes once it has its function (the gateway's link listener). */
  acceptLink: (stream: Duplex) => void;
}

export interface GenericEnvironment {
  launched: LaunchedEnvironment;
  /**
   * Makes the environment `spec`'s for life: puts its code in place, calls `register` with the spec its
   * agent is to be configured with (the code's path as the environment sees it), then hands its link to the
   * gateway. Throws if the code cannot be put in place; the environment is then of no use.
   */
  specialise(spec: EnvironmentSpec, register: (seen: EnvironmentSpec) => void): void;
}

/** A provider that can start environments ahead of their function. */
export interface PrewarmingProvider {
  /** Whether `spec`'s function can run in a generic environment without weakening its isolation. */
  prewarmable(spec: Omit<EnvironmentSpec, 'environmentId'>): boolean;
  launchGeneric(launch: GenericLaunch): GenericEnvironment;
}

export function isPrewarming(provider: object): provider is PrewarmingProvider {
  return 'launchGeneric' in provider && 'prewarmable' in provider;
}

export interface PrewarmOptions {
  /** Generic environments kept per profile; 0 turns pre-warming off. */
  perProfile: number;
  /** A profile without a cold start for this long keeps none. */
  idleMs: number;
  /** How long after a cold start its replacement starts: the first call's init runs on a quieter machine. */
  refillDelayMs?: number | undefined;
}

export interface TakenEnvironment {
  environmentId: string;
  token: string;
  generic: GenericEnvironment;
}

interface Profile {
  runtime: string;
  memoryMB: number;
  lastDemand: number;
  /** Started and not yet taken or ended; one still starting is taken as readily (it is no slower than a cold start). */
  waiting: TakenEnvironment[];
}

const REFILL_DELAY_MS = 250;

export class PrewarmPool {
  private readonly provider: PrewarmingProvider;
  private readonly linkUrl: (environmentId: string) => string;
  private readonly acceptLink: (stream: Duplex) => void;
  private readonly options: PrewarmOptions;
  private readonly profiles = new Map<string, Profile>();
  private readonly expiry: NodeJS.Timeout;
  private closed = false;

  constructor(
    provider: PrewarmingProvider,
    linkUrl: (environmentId: string) => string,
    acceptLink: (stream: Duplex) => void,
    options: PrewarmOptions,
  ) {
    this.provider = provider;
    this.linkUrl = linkUrl;
    this.acceptLink = acceptLink;
    this.options = options;
    this.expiry = setInterval(
      () => this.expire(Date.now()),
      Math.max(1000, Math.min(options.idleMs / 2, 60_000)),
    );
    this.expiry.unref();
  }

  /**
   * A cold start of `spec`: a generic environment for its profile if one is waiting (the caller specialises
   * it), else undefined (the caller starts one as before). Either way the profile has demand and is
   * refilled shortly.
   */
  take(spec: Omit<EnvironmentSpec, 'environmentId'>): TakenEnvironment | undefined {
    if (this.closed || this.options.perProfile <= 0 || !this.provider.prewarmable(spec)) return undefined;
    const key = `${spec.runtime}/${spec.memoryMB}`;
    let profile = this.profiles.get(key);
    if (!profile) {
      profile = { runtime: spec.runtime, memoryMB: spec.memoryMB, lastDemand: 0, waiting: [] };
      this.profiles.set(key, profile);
    }
    profile.lastDemand = Date.now();
    const taken = profile.waiting.shift();
    const refill = profile;
    setTimeout(() => this.fill(refill), this.options.refillDelayMs ?? REFILL_DELAY_MS).unref();
    return taken;
  }

  /** Generic environments waiting, by profile (`runtime/memoryMB`). */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, p] of this.profiles) out[key] = p.waiting.length;
    return out;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.expiry);
    for (const profile of this.profiles.values()) this.drain(profile);
    this.profiles.clear();
  }

  private fill(profile: Profile): void {
    if (this.closed || this.profiles.get(`${profile.runtime}/${profile.memoryMB}`) !== profile) return;
    while (profile.waiting.length < this.options.perProfile) this.startOne(profile);
  }

  private startOne(profile: Profile): void {
    const environmentId = randomUUID();
    const token = randomBytes(32).toString('base64url');
    let generic: GenericEnvironment;
    try {
      generic = this.provider.launchGeneric({
        runtime: profile.runtime,
        memoryMB: profile.memoryMB,
        environmentId,
        token,
        linkUrl: this.linkUrl(environmentId),
        acceptLink: this.acceptLink,
      });
    } catch {
      return; // no pre-warming for this profile now; the next cold start tries again
    }
    const waiting: TakenEnvironment = { environmentId, token, generic };
    profile.waiting.push(waiting);
    // One that ends before it is taken is not replaced until the next cold start: a runtime that cannot
    // start must not be restarted in a loop.
    void generic.launched.exited.then(() => {
      const i = profile.waiting.indexOf(waiting);
      if (i >= 0) profile.waiting.splice(i, 1);
    });
  }

  /** Profiles without a cold start for idleMs end their generic environments. */
  private expire(now: number): void {
    for (const [key, profile] of this.profiles) {
      if (now - profile.lastDemand < this.options.idleMs) continue;
      this.drain(profile);
      this.profiles.delete(key);
    }
  }

  private drain(profile: Profile): void {
    for (const w of profile.waiting.splice(0)) w.generic.launched.stop();
  }
}
