// What the gateway needs from wherever execution environments run: start one, learn when it is gone.
import type { Duplex } from 'node:stream';
import type { EnvironmentSpec } from '../../../apis/environment-link.ts';

export interface EnvironmentLaunch {
  spec: EnvironmentSpec;
  /** ws:// URL the environment's agent links to, and the credential it presents. */
  linkUrl: string;
  token: string;
  /**
   * Hands a connected stream (a socket the provider passed into the environment) to the gateway's link
   * listener, for environments that cannot or must not dial it: the same protocol and credential check.
   */
  acceptLink(stream: Duplex): void;
}

export interface LaunchedEnvironment {
  /** Resolves with a reason once the environment has ended, for whatever cause. */
  exited: Promise<string>;
  /** True when it ended because the cluster had no room for it (a full node): callers are throttled. */
  outOfCapacity?: () => boolean;
  /** Asks the environment to end (graceful first, then forced). */
  stop(): void;
}

export interface EnvironmentProvider {
  launch(launch: EnvironmentLaunch): LaunchedEnvironment;
  close(): Promise<void>;
}

/** Where an environment's log stream goes: one call per line. */
export type FunctionLogSink = (spec: EnvironmentSpec, line: string) => void;
