// The upstream link between an environment's agent and the gateway: message shapes and binary framing.
//
// One WebSocket per environment, opened by the agent with its per-environment bearer credential.
// Each frame is [u32 header length][JSON header][raw body], so payloads travel without re-encoding.

export const LINK_PATH_PREFIX = '/agent/v1/environments/';

/** EnvironmentSpec.runtime of a container-image function (code.image), which has no runtime identifier. */
export const IMAGE_RUNTIME = 'image';

/** What an environment runs; fixed for its lifetime (one function version). */
export interface EnvironmentSpec {
  environmentId: string;
  namespace: string;
  functionName: string;
  /** `$LATEST` or a version number; never an alias. */
  version: string;
  /** The runtime identifier, or IMAGE_RUNTIME for a container-image function (its image is its runtime). */
  runtime: string;
  handler: string;
  /** Absolute path of the code directory inside the environment (LAMBDA_TASK_ROOT). */
  codeDir: string;
  /** Host directory of the function's layers, merged in order; the provider shows it as /opt. */
  layersDir?: string | undefined;
  memoryMB: number;
  timeoutSeconds: number;
  region: string;
  logFormat: 'Text' | 'JSON';
  applicationLogLevel?: string | undefined;
  systemLogLevel?: string | undefined;
  initializationType: 'on-demand' | 'provisioned-concurrency';
  environment: Record<string, string>;
  /**
   * Invocations the environment runs at once (multi-concurrency, Lambda Managed Instances): its runtime
   * sees AWS_LAMBDA_MAX_CONCURRENCY and polls /next from several workers. Unset: one at a time.
   */
  maxConcurrency?: number | undefined;
}

export interface InvocationRequest {
  requestId: string;
  invokedFunctionArn: string;
  traceId?: string | undefined;
  /** Decoded JSON string of X-Amz-Client-Context. */
  clientContext?: string | undefined;
  cognitoIdentity?: string | undefined;
  tenantId?: string | undefined;
  contentType?: string | undefined;
}

export interface InvocationResult {
  requestId: string;
  /** `error` covers function, runtime and sandbox errors: the caller sees X-Amz-Function-Error. */
  outcome: 'success' | 'error';
  errorType?: string | undefined;
  contentType?: string | undefined;
  durationMs: number;
  billedDurationMs: number;
  maxMemoryUsedMB: number;
  initDurationMs?: number | undefined;
  /** Base64 of the last 4 KB of this invocation's log (X-Amz-Log-Result). */
  logTail: string;
  /** Set when the runtime answered in streaming mode: how many bytes were relayed as `stream-chunk`s. */
  streamedBytes?: number | undefined;
}

export type GatewayMessage =
  | { type: 'configure'; spec: EnvironmentSpec }
  | { type: 'invoke'; invocation: InvocationRequest }
  /** The gateway passed `bytes` more of a streamed response on to its client: the agent may send that many more. */
  | { type: 'stream-credit'; requestId: string; bytes: number }
  /** The client of a streamed response went away: the agent drops the rest instead of relaying it. */
  | { type: 'stream-cancel'; requestId: string }
  | { type: 'shutdown'; reason: string };

export type AgentMessage =
  /** The environment can take one invocation. */
  | { type: 'ready' }
  /** The first init is done, in a pod started with an init CPU boost: the controller takes it back (ADR-48). */
  | { type: 'initialised' }
  /** The runtime answers in streaming mode (reference §1.3); chunks follow, then the `result`. */
  | { type: 'stream-start'; requestId: string; contentType?: string | undefined }
  /** The next bytes of a streamed response (the frame's body), sent only within the granted credit. */
  | { type: 'stream-chunk'; requestId: string }
  /**
   * The invocation's outcome. After a stream, the body holds only the error payload (if it failed) and
   * `streamedBytes` counts what was relayed.
   */
  | { type: 'result'; result: InvocationResult };

/** Lambda's init phase: an init still running after it fails, or goes on inside the invoke phase. */
export const INIT_LIMIT_MS = 10_000;

/**
 * Bytes of a streamed response the agent may have sent and the gateway not yet passed on: the window that
 * bounds each side's memory per stream whatever the speeds of the runtime and the client.
 */
export const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;

/** A frame of `header` and a body given whole or in parts (a streamed response's coalesced chunks): one copy. */
export function encodeFrame(
  header: GatewayMessage | AgentMessage,
  body?: Uint8Array | readonly Uint8Array[],
): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const parts = body === undefined ? [] : body instanceof Uint8Array ? [body] : body;
  let size = 4 + json.length;
  for (const part of parts) size += part.length;
  const frame = Buffer.allocUnsafe(size);
  frame.writeUInt32BE(json.length, 0);
  frame.set(json, 4);
  let at = 4 + json.length;
  for (const part of parts) {
    frame.set(part, at);
    at += part.length;
  }
  return frame;
}

export function decodeFrame<T>(frame: Buffer): { header: T; body: Buffer } {
  if (frame.length < 4) throw new Error('link frame too short');
  const length = frame.readUInt32BE(0);
  if (4 + length > frame.length) throw new Error('link frame header truncated');
  const header = JSON.parse(frame.subarray(4, 4 + length).toString('utf8')) as T;
  return { header, body: frame.subarray(4 + length) };
}
