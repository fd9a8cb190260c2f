// Finds and loads the user's handler named by `_HANDLER`, turning failures into Lambda's Runtime.* init errors.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  HandlerNotFound,
  ImportModuleError,
  MalformedHandlerName,
  MalformedStreamingHandler,
  UserCodeSyntaxError,
} from './errors.ts';
import { bindPackageScope } from './package-scope.ts';

/** Marks set by `awslambda.streamifyResponse`; the same global symbols as the official client, so libraries agree. */
export const STREAMING_MARK = Symbol.for('aws.lambda.runtime.handler.streaming');
export const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');

export type UserHandler = (...args: unknown[]) => unknown;

export interface LoadedHandler {
  fn: UserHandler;
  streaming: boolean;
  highWaterMark: number | undefined;
  /** Declared `async`: its promise left pending when the loop drains is a Runtime.NodeJsExit error. */
  isAsync: boolean;
  argsNum: number;
}

export interface HandlerName {
  /** Directory part, relative to the task root (`src/` in `src/app.handler`). */
  moduleRoot: string;
  moduleName: string;
  /** Export path inside the module; dots walk nested objects (`app.routes.get`). */
  exportPath: string;
}

// Tried in this order after the extensionless name, like the official client on Node 24 (which strips TS types).
const EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];

/** What counts as an async result: anything with a `then` method, as in the official client. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

export function parseHandlerName(full: string): HandlerName {
  if (full.includes('..')) {
    throw new MalformedHandlerName(
      `'${full}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const base = basename(full);
  const match = /^([^.]*)\.(.*)$/.exec(base);
  if (!match) throw new MalformedHandlerName('Bad handler');
  return {
    moduleRoot: full.slice(0, full.length - base.length),
    moduleName: match[1]!,
    exportPath: match[2]!,
  };
}

export async function loadHandler(taskRoot: string, full: string): Promise<LoadedHandler> {
  const name = parseHandlerName(full);
  const mod = await importUserModule(taskRoot, name);
  const fn = resolveExport(mod, name.exportPath);
  if (!fn) throw new HandlerNotFound(`${full} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${full} is not a function`);
  const handler = fn as UserHandler & Partial<Record<symbol, unknown>>;
  return {
    fn: handler,
    streaming: isStreaming(handler[STREAMING_MARK]),
    highWaterMark: highWaterMark(handler[HIGH_WATER_MARK]),
    isAsync: handler.constructor?.name === 'AsyncFunction',
    argsNum: handler.length,
  };
}

async function importUserModule(taskRoot: string, name: HandlerName): Promise<Record<string, unknown>> {
  const moduleDir = resolve(taskRoot, name.moduleRoot);
  const stem = resolve(moduleDir, name.moduleName);
  bindPackageScope(resolve(taskRoot));
  try {
    // Dynamic import loads ES modules and CommonJS alike; the format comes from the extension and the nearest
    // package.json inside the task root (package-scope.ts).
    const file = ['']
      .concat(EXTENSIONS)
      .map((ext) => stem + ext)
      .find(isFile);
    // Not a file under the task root: resolve it as a package name, as require() would.
    const target =
      file ?? createRequire(import.meta.url).resolve(name.moduleName, { paths: [taskRoot, moduleDir] });
    return (await import(pathToFileURL(target).href)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof SyntaxError) throw new UserCodeSyntaxError(describe(err));
    const code = (err as { code?: unknown } | null)?.code;
    // CommonJS require() and ESM import report a missing module with different codes; both are import errors.
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new ImportModuleError(describe(err as Error));
    }
    // Anything else was thrown by the user's module while it initialised; Lambda reports it as it is.
    throw err;
  }
}

/** "Name: message", without the "[ERR_CODE]" that Node's own errors add in toString(). */
function describe(err: Error): string {
  return `${err.name}: ${err.message}`;
}

function resolveExport(mod: Record<string, unknown>, path: string): unknown {
  const found = walk(mod, path);
  // Node names CommonJS exports by static analysis; exports it cannot see are still on the module.exports object.
  if (!found && 'module.exports' in mod) return walk(mod['module.exports'], path);
  return found;
}

function walk(root: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => {
    return node ? (node as Record<string, unknown>)[key] : node;
  }, root);
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function isStreaming(mark: unknown): boolean {
  if (mark === undefined || mark === null || mark === false) return false;
  if (mark === 'response') return true;
  throw new MalformedStreamingHandler('Only response streaming is supported.');
}

function highWaterMark(mark: unknown): number | undefined {
  if (mark === undefined || mark === null || mark === false) return undefined;
  const value = Number.parseInt(String(mark), 10);
  return Number.isNaN(value) ? undefined : value;
}
