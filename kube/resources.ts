// Names and shapes of the Kubernetes resources Serval reads and writes, shared by controller and gateway.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AliasSpec } from '../apis/alias.ts';
import type { DeploymentStatus } from '../apis/deployment.ts';
import type { FunctionSpec } from '../apis/function.ts';

export const GROUP = 'serval.dev';
export const VERSION = 'v1alpha1';
export const FUNCTIONS = 'functions';
export const ALIASES = 'aliases';

/** Labels on everything Serval creates for a function. */
export const LABEL_FUNCTION = 'serval.dev/function';
export const LABEL_VERSION = 'serval.dev/version';
export const LABEL_ENVIRONMENT = 'serval.dev/environment';
export const LABEL_MANAGED = 'app.kubernetes.io/managed-by';
export const MANAGER = 'serval';
export const FINALIZER = 'serval.dev/cleanup';
/** Set (to any new value) to publish the function's current code and configuration as a version. */
export const ANNOTATION_PUBLISH = 'serval.dev/publish';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface VersionStatus {
  version: string;
  codeSha256: string;
  configHash: string;
  publishedAt: string;
  revision: string;
}

export interface FunctionStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** sha256 of $LATEST's code, and the ConfigMap holding it. */
  codeSha256?: string;
  codeConfigMap?: string;
  latestVersion?: string;
  versions?: VersionStatus[];
  /** The publish annotation value last acted on. */
  lastPublishRequest?: string;
  /** The function URL (Host form), when `spec.url` is set. */
  url?: string;
}

export interface FunctionObject extends KubernetesObject {
  spec: FunctionSpec;
  status?: FunctionStatus;
}

export interface AliasObject extends KubernetesObject {
  spec: AliasSpec;
  status?: { conditions?: Condition[]; observedGeneration?: number; deployment?: DeploymentStatus };
}

/** What a published version's ControllerRevision holds in `data`. */
export interface RevisionData {
  version: string;
  codeSha256: string;
  configHash: string;
  publishedAt: string;
  /** Immutable ConfigMap with the code of this version. */
  codeConfigMap: string;
  spec: FunctionSpec;
  description?: string;
}

export function functionsPath(namespace?: string): string {
  return namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${FUNCTIONS}`
    : `/apis/${GROUP}/${VERSION}/${FUNCTIONS}`;
}

export function aliasesPath(): string {
  return `/apis/${GROUP}/${VERSION}/${ALIASES}`;
}
