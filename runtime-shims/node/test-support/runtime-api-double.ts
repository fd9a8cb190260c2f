// A Runtime API test double over real HTTP, and a helper that starts the real runtime process against it.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const BOOTSTRAP = join(import.meta.dirname, '..', 'bootstrap.ts');
export const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'functions', 'node');

/** What the runtime posted for one invocation (or for init). */
export interface Posted {
  path: string;
  headers: IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: Buffer;
  /** The body as JSON; undefined when it is not JSON. */
  json: unknown;
}

export interface QueuedInvocation {
  event?: unknown;
  /** Raw bytes instead of a JSON event. */
  raw?: string;
  requestId?: string;
  deadlineMs?: number;
  headers?: Record<string, string>;
}

export class RuntimeApiDouble {
  readonly nextCalls: number[] = [];
  private readonly server: Server;
  private readonly queue: Array<{ invocation: QueuedInvocation; requestId: string }> = [];
  private waiting: ((item: { invocation: QueuedInvocation; requestId: string }) => void) | undefined;
  private readonly results = new Map<string, (posted: Posted) => void>();
  private initErrorListener: ((posted: Posted) => void) | undefined;
  readonly initError: Promise<Posted>;

  private constructor() {
    this.initError = new Promise((resolve) => {
      this.initErrorListener = resolve;
    });
    this.server = createServer((req, res) => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
        this.nextCalls.push(Date.now());
        const deliver = (item: { invocation: QueuedInvocation; requestId: string }): void => {
          const { invocation, requestId } = item;
          const body = invocation.raw ?? JSON.stringify(invocation.event ?? {});
          res.writeHead(200, {
            'Content-Type': 'application/json',
            'Lambda-Runtime-Aws-Request-Id': requestId,
            'Lambda-Runtime-Deadline-Ms': String(invocation.deadlineMs ?? Date.now() + 30_000),
            'Lambda-Runtime-Invoked-Function-Arn': 'arn:serval:lambda:local:default:function:fixture',
            ...invocation.headers,
          });
          res.end(body);
        };
        const item = this.queue.shift();
        if (item) deliver(item);
        else this.waiting = deliver;
        return;
      }
      void readPosted(req).then((posted) => {
        res.writeHead(202, { 'Content-Type': 'application/json' });
        res.end('{"status":"OK"}');
        const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
        if (match) this.results.get(decodeURIComponent(match[1]!))?.(posted);
        else if (url === '/2018-06-01/runtime/init/error') this.initErrorListener?.(posted);
      });
    });
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
  }

  static async start(): Promise<RuntimeApiDouble> {
    const api = new RuntimeApiDouble();
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Queues an invocation; resolves with what the runtime posts for it. */
  invoke(invocation: QueuedInvocation = {}): Promise<Posted> {
    const requestId = invocation.requestId ?? randomUUID();
    const posted = new Promise<Posted>((resolve) => this.results.set(requestId, resolve));
    const item = { invocation, requestId };
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting(item);
    else this.queue.push(item);
    return posted;
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

function readPosted(req: IncomingMessage): Promise<Posted> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(body.toString());
      } catch {
        json = undefined;
      }
      resolve({ path: req.url ?? '', headers: req.headers, trailers: req.trailers, body, json });
    });
  });
}

/** The real runtime process, started as the agent starts it. */
export class RuntimeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout = '';
  stderr = '';

  constructor(api: RuntimeApiDouble, fixture: string, env: Record<string, string> = {}) {
    const taskRoot = join(FIXTURES, fixture);
    this.child = spawn(process.execPath, [BOOTSTRAP], {
      cwd: taskRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        AWS_LAMBDA_RUNTIME_API: api.address,
        _HANDLER: 'index.handler',
        LAMBDA_TASK_ROOT: taskRoot,
        AWS_LAMBDA_FUNCTION_NAME: fixture,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
        AWS_LAMBDA_LOG_GROUP_NAME: `/serval/default/${fixture}`,
        AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
        ...env,
      },
    });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** A runtime process and its own Runtime API double; `stop` ends both. */
export interface RuntimeUnderTest {
  api: RuntimeApiDouble;
  runtime: RuntimeProcess;
  stop(): Promise<void>;
}

export async function startRuntime(
  fixture: string,
  env: Record<string, string> = {},
): Promise<RuntimeUnderTest> {
  const api = await RuntimeApiDouble.start();
  const runtime = new RuntimeProcess(api, fixture, env);
  return {
    api,
    runtime,
    async stop() {
      runtime.kill();
      await runtime.exited;
      api.close();
    },
  };
}

/** Resolves after `ms`; for asserting that something has not happened yet. */
export function delay(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms));
}
