// Starts one environment: issues its credential, launches it, and waits until its agent links up. With
// pre-warming (ADR-50) a generic environment waiting for the function's profile is specialised instead.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { EnvironmentSpec } from '../../../apis/environment-link.ts';
import type { EnvironmentProvider, LaunchedEnvironment } from '../providers/provider.ts';
import type { AgentConnection } from '../runtime-link/agent-connection.ts';
import type { LinkServer } from '../runtime-link/link-server.ts';
import type { PrewarmPool, TakenEnvironment } from './prewarm-pool.ts';

export interface StartedEnvironment {
  environmentId: string;
  /** The linked, configured agent; rejects with the reason if the environment never got there. */
  connection: Promise<AgentConnection>;
  launched: LaunchedEnvironment;
}

export type StartEnvironment = (spec: Omit<EnvironmentSpec, 'environmentId'>) => StartedEnvironment;

export function environmentLauncher(
  provider: EnvironmentProvider,
  links: LinkServer,
  linkBaseUrl: () => string,
  startTimeoutMs: number,
  acceptLink: (stream: Duplex) => void,
  prewarm?: PrewarmPool,
): StartEnvironment {
  const linking = (environmentId: string, launched: LaunchedEnvironment, linked: Promise<AgentConnection>) =>
    new Promise<AgentConnection>((resolve, reject) => {
      const timer = setTimeout(() => {
        launched.stop();
        reject(new Error(`environment did not link within ${startTimeoutMs / 1000} s`));
      }, startTimeoutMs);
      linked.then((conn) => {
        clearTimeout(timer);
        resolve(conn);
      });
      void launched.exited.then((reason) => {
        clearTimeout(timer);
        links.forget(environmentId);
        reject(new Error(reason));
      });
    });

  /** The generic environment made `partial`'s, or undefined if its code could not be put in place. */
  const specialise = (
    partial: Omit<EnvironmentSpec, 'environmentId'>,
    taken: TakenEnvironment,
  ): StartedEnvironment | undefined => {
    const { environmentId, token, generic } = taken;
    let connected!: (c: AgentConnection) => void;
    const linked = new Promise<AgentConnection>((resolve) => {
      connected = resolve;
    });
    try {
      generic.specialise({ ...partial, environmentId }, (seen) =>
        links.expect(seen, token, (conn) => connected(conn)),
      );
    } catch {
      links.forget(environmentId);
      generic.launched.stop();
      return undefined;
    }
    return {
      environmentId,
      connection: linking(environmentId, generic.launched, linked),
      launched: generic.launched,
    };
  };

  return (partial) => {
    const taken = prewarm?.take(partial);
    const specialised = taken && specialise(partial, taken);
    if (specialised) return specialised;
    const environmentId = randomUUID();
    const spec: EnvironmentSpec = { ...partial, environmentId };
    const token = randomBytes(32).toString('base64url');
    let connected!: (c: AgentConnection) => void;
    const linked = new Promise<AgentConnection>((resolve) => {
      connected = resolve;
    });
    links.expect(spec, token, (conn) => connected(conn));
    const launched = provider.launch({
      spec,
      token,
      linkUrl: `${linkBaseUrl()}${links.linkPath(environmentId)}`,
      acceptLink,
    });
    return { environmentId, connection: linking(environmentId, launched, linked), launched };
  };
}
