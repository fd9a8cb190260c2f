// A function as the data plane knows it: validated spec, where its code lives, and its ARN.
import type { FunctionSpec } from '../../../apis/function.ts';

export interface FunctionDefinition {
  namespace: string;
  name: string;
  spec: FunctionSpec;
  /** Absolute directory holding the code (LAMBDA_TASK_ROOT in local mode). */
  codeDir: string;
  /** Its layers merged into one directory, which environments see as /opt. */
  layersDir?: string | undefined;
  codeSha256: string;
  /** Where it was declared, for messages: file and document index. */
  source: string;
  /**
   * Changes whenever the definition changes in a way a running environment would not pick up (in cluster
   * mode the Function's generation); environments of an older revision are drained.
   */
  revision?: string | undefined;
}

export function functionArn(region: string, namespace: string, name: string, qualifier?: string): string {
  const base = `arn:serval:lambda:${region}:${namespace}:function:${name}`;
  return qualifier ? `${base}:${qualifier}` : base;
}

export function functionKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
