// A list-and-watch cache that stays current. One loop owns the watch: it lists, then watches from the
// list's resourceVersion, re-watches from the last event after the server closes the stream, and re-lists
// after 410 Gone. A watch can stall silently (client-node #364, #596), so every `resyncMs` the loop re-lists
// (objects that vanished meanwhile are reported removed, every other object is handed to the handlers
// again) and restarts the watch once. Nothing else starts a watch, so restarts cannot pile up.
// Reconcilers are level-triggered, so a repeated object costs a no-op reconcile.
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  Watch,
} from '@kubernetes/client-node';
import { requestJson } from './request.ts';

export interface InformerHandlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

export interface InformerStats {
  /** Full lists (the first one, re-lists on resync and after 410 Gone). */
  lists: number;
  /** Watch requests started. */
  watches: number;
}

export interface RunningInformer<T extends KubernetesObject> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  /** Resolves after the first complete list (or at stop). */
  synced: Promise<void>;
  stats(): InformerStats;
  stop(): Promise<void>;
}

/** The server ends each watch after a random 5–10 minutes (client-go's reflector does the same). */
const WATCH_TIMEOUT_S = 300;
/** No bytes for this long (the server sends a bookmark about every minute) means the watch is dead. */
const WATCH_IDLE_MS = 150_000;
const MAX_BACKOFF_MS = 30_000;

export function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  handlers: InformerHandlers<T>,
  options: {
    labelSelector?: string;
    fieldSelector?: string;
    resyncMs?: number;
    log?: (line: string) => void;
    /** Keeps only what the caller needs of each object, so the cache does not hold whole objects. */
    transform?: (obj: T) => T;
  } = {},
): RunningInformer<T> {
  const cache = new Map<string, T>();
  const stats: InformerStats = { lists: 0, watches: 0 };
  const transform = (o: T) => (options.transform ?? ((x: T) => x))(stripBookkeeping(o));
  const watcher = new Watch(kc);
  // client-node's 30 s idle timeout is shorter than the server's bookmark interval: an idle watch would
  // be dropped every 30 s. The field is private in the typings only.
  (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_IDLE_MS;
  let resourceVersion = '';
  let relist = true;
  let stopped = false;
  let current: AbortController | undefined;
  let wake: (() => void) | undefined;
  let markSynced!: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));

  const selectors = () => {
    const query: Record<string, string> = {};
    if (options.labelSelector) query.labelSelector = options.labelSelector;
    if (options.fieldSelector) query.fieldSelector = options.fieldSelector;
    return query;
  };

  const list = async () => {
    stats.lists++;
    const query = new URLSearchParams(selectors());
    const result = (await requestJson(
      kc,
      `${path}${query.size > 0 ? `?${query}` : ''}`,
    )) as KubernetesListObject<T>;
    const seen = new Set<string>();
    for (const item of result.items ?? []) {
      const k = key(item);
      seen.add(k);
      const o = transform(item);
      cache.set(k, o);
      handlers.upsert(o);
    }
    for (const [k, o] of cache) {
      if (seen.has(k)) continue;
      cache.delete(k);
      handlers.remove(o);
    }
    resourceVersion = result.metadata?.resourceVersion ?? '';
  };

  const onEvent = (type: string, obj: T & { code?: number }) => {
    if (type === 'ERROR') {
      // 410 Gone: the resourceVersion is too old to watch from; only a new list helps.
      if (obj.code === 410) {
        relist = true;
        current?.abort();
      }
      return;
    }
    if (obj.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
    if (type === 'BOOKMARK') return;
    const k = key(obj);
    if (type === 'DELETED') {
      const known = cache.get(k);
      cache.delete(k);
      handlers.remove(known ?? transform(obj));
      return;
    }
    const o = transform(obj);
    cache.set(k, o);
    handlers.upsert(o);
  };

  /** One watch request; resolves when it ends, with the error if it failed. */
  const watchOnce = () =>
    new Promise<unknown>((resolve) => {
      stats.watches++;
      const timeoutSeconds = String(WATCH_TIMEOUT_S + Math.floor(Math.random() * WATCH_TIMEOUT_S));
      watcher
        .watch(
          path,
          { ...selectors(), resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds },
          (type, obj) => onEvent(type, obj as T & { code?: number }),
          (err) => resolve(err ?? undefined),
        )
        .then(
          (controller) => {
            current = controller;
            if (stopped || relist) controller.abort();
          },
          (err) => resolve(err),
        );
    });

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      let listing = false;
      try {
        if (relist) {
          relist = false;
          listing = true;
          await list();
          listing = false;
          markSynced();
        }
        const err = await watchOnce();
        current = undefined;
        if (stopped || relist) continue;
        if (err && !isTimeout(err)) {
          if (statusOf(err) === 410) relist = true;
          throw err;
        }
        failures = 0;
      } catch (err) {
        if (stopped) break;
        if (listing) relist = true;
        failures++;
        options.log?.(`${listing ? 'list' : 'watch'} ${path} failed: ${message(err)}; retrying`);
        await pause(Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1)));
      }
    }
  })();

  const resync = setInterval(() => {
    relist = true;
    current?.abort();
  }, options.resyncMs ?? 60_000);
  resync.unref();

  return {
    list: () => [...cache.values()],
    get: (name, namespace) => cache.get(`${namespace ?? ''}/${name}`),
    synced,
    stats: () => ({ ...stats }),
    async stop() {
      stopped = true;
      clearInterval(resync);
      current?.abort();
      wake?.();
      markSynced(); // nobody waits forever for a list that will not come
      await loop;
    },
  };
}

/**
 * Drops what no handler reads but every object carries: managedFields and kubectl's last-applied copy of
 * the whole object (with inline code, twice the spec). client-go's informers strip managedFields alike.
 */
function stripBookkeeping<T extends KubernetesObject>(o: T): T {
  const meta = o.metadata;
  if (!meta || (!meta.managedFields && !meta.annotations?.[LAST_APPLIED])) return o;
  const { managedFields: _, ...rest } = meta;
  if (rest.annotations?.[LAST_APPLIED]) {
    const { [LAST_APPLIED]: __, ...annotations } = rest.annotations;
    rest.annotations = annotations;
  }
  return { ...o, metadata: rest };
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: number; code?: number };
  return e.statusCode ?? (typeof e.code === 'number' ? e.code : undefined);
}

function key(o: KubernetesObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
