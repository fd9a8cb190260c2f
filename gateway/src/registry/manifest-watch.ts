// `serval dev` reloads what changes on disk: a manifest file added, edited or removed, or a file under a
// function's code directory. A changed function is put again with its new code hash and revision, which
// retires its warm `$LATEST` environments (busy ones finish their invocation first); the next call starts
// fresh ones on the new code. Published versions are copies and stay as they are.
import { type FSWatcher, watch } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { type FunctionDefinition, functionKey } from './function-definition.ts';
import type { FunctionRegistry } from './function-registry.ts';
import { formatProblem, type LoadedManifests } from './manifest-loader.ts';

export interface ManifestWatchEvents {
  loaded(fn: FunctionDefinition): void;
  reloaded(fn: FunctionDefinition): void;
  removed(fn: FunctionDefinition): void;
  problem(line: string): void;
}

export interface ManifestWatch {
  close(): void;
}

/** Editors write a file in several steps (truncate, write, rename); one reload follows a quiet spell. */
const DEBOUNCE_MS = 150;

export function watchManifests(options: {
  dir: string;
  /** Reads the directory again, with the checks it had at start-up. */
  load: () => LoadedManifests;
  /** Serval's own state; a code directory that contains it (`code.path: .`) must not reload on its writes. */
  dataDir: string;
  registry: FunctionRegistry;
  /** The functions the registry got at start-up from `dir`. */
  initial: FunctionDefinition[];
  events: ManifestWatchEvents;
}): ManifestWatch {
  const { load, registry, events } = options;
  const dir = resolve(options.dir);
  const dataDir = resolve(options.dataDir);
  /** The functions this directory defines now, by key; others in the registry are left alone. */
  let current = new Map(options.initial.map((fn) => [functionKey(fn.namespace, fn.name), fn]));
  const codeWatchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const schedule = (changed: string) => {
    if (closed || changed === dataDir || changed.startsWith(dataDir + sep)) return;
    clearTimeout(timer);
    timer = setTimeout(reload, DEBOUNCE_MS);
  };
  const manifestWatcher = watchQuietly(dir, false, schedule);

  const reload = () => {
    if (closed) return;
    let loaded: LoadedManifests;
    try {
      loaded = load();
    } catch (err) {
      events.problem(`could not reload ${dir}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    for (const problem of loaded.problems) events.problem(`skipped ${formatProblem(problem)}`);
    // A file that does not parse right now (often half-saved) keeps the functions it defined before.
    const brokenFiles = new Set(loaded.problems.map((p) => p.file));
    const next = new Map(loaded.functions.map((fn) => [functionKey(fn.namespace, fn.name), fn]));
    for (const [key, old] of current) {
      if (next.has(key)) continue;
      if ([...brokenFiles].some((file) => old.source.startsWith(`${file} (`))) next.set(key, old);
      else {
        registry.delete(old.namespace, old.name);
        events.removed(old);
      }
    }
    for (const [key, fn] of next) {
      const old = current.get(key);
      if (old === fn) continue;
      if (!old) {
        registry.put(fn);
        events.loaded(fn);
      } else if (old.spec.tenancy?.mode !== fn.spec.tenancy?.mode) {
        // Immutable, as in Lambda (and the CRD's transition rule): the function keeps what it was created with.
        events.problem(
          `skipped ${fn.source}: spec.tenancy: InvalidParameterValueException: tenancy cannot be changed after the function is created`,
        );
        next.set(key, old);
      } else if (old.codeSha256 !== fn.codeSha256 || old.revision !== fn.revision) {
        registry.put(fn);
        events.reloaded(fn);
      }
    }
    current = next;
    watchCode();
  };

  /** One recursive watcher per code directory of `path:` code (inline code changes with its manifest). */
  const watchCode = () => {
    const wanted = new Set([...current.values()].filter((fn) => fn.spec.code.path).map((fn) => fn.codeDir));
    for (const [codeDir, watcher] of codeWatchers) {
      if (wanted.has(codeDir)) continue;
      watcher.close();
      codeWatchers.delete(codeDir);
    }
    for (const codeDir of wanted) {
      if (codeWatchers.has(codeDir)) continue;
      const watcher = watchQuietly(codeDir, true, schedule);
      if (watcher) codeWatchers.set(codeDir, watcher);
    }
  };
  watchCode();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      manifestWatcher?.close();
      for (const watcher of codeWatchers.values()) watcher.close();
      codeWatchers.clear();
    },
  };
}

/** A directory that vanishes ends its watcher without an error; the next reload reports what is missing. */
function watchQuietly(
  path: string,
  recursive: boolean,
  onChange: (changed: string) => void,
): FSWatcher | undefined {
  try {
    const watcher = watch(path, { recursive, persistent: false }, (_event, name) =>
      onChange(name ? join(path, name.toString()) : path),
    );
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined;
  }
}
