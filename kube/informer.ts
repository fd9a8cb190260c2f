// A list-and-watch cache that stays current. client-node's ListWatch re-lists after 410 Gone and reconnects
// after errors; on top of that, a watch can stall silently (client-node #364, #596), so every
// `resyncMs` the informer is restarted, which re-lists and hands every object to the handlers again.
// Reconcilers are level-triggered, so a repeated object costs a no-op reconcile.
import http from 'node:http';
import https from 'node:https';
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';

export interface InformerHandlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

export interface RunningInformer<T extends KubernetesObject> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  /** Resolves after the first complete list. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

export function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  handlers: InformerHandlers<T>,
  options: {
    labelSelector?: string;
    fieldSelector?: string;
    resyncMs?: number;
    log?: (line: string) => void;
  } = {},
): RunningInformer<T> {
  const listFn = async (): Promise<KubernetesListObject<T>> => {
    const query = new URLSearchParams();
    if (options.labelSelector) query.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) query.set('fieldSelector', options.fieldSelector);
    const suffix = query.size > 0 ? `?${query}` : '';
    return (await requestJson(kc, `${path}${suffix}`)) as KubernetesListObject<T>;
  };
  const informer = new ListWatch<T>(
    path,
    new Watch(kc),
    listFn,
    false,
    options.labelSelector,
    options.fieldSelector,
  );
  informer.on('add', (o) => handlers.upsert(o));
  informer.on('update', (o) => handlers.upsert(o));
  informer.on('delete', (o) => handlers.remove(o));
  let stopped = false;
  informer.on('error', (err) => {
    options.log?.(`watch ${path} failed: ${message(err)}; restarting`);
    // client-node restarts by itself only after 410 Gone and timeouts; any other error ends the watch.
    setTimeout(() => {
      if (!stopped) void informer.start().catch(() => undefined);
    }, 1000).unref();
  });
  const synced = (async () => {
    for (;;) {
      try {
        await informer.start();
        return;
      } catch (err) {
        if (stopped) return;
        options.log?.(`list ${path} failed: ${message(err)}; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();
  const resync = setInterval(() => {
    void (async () => {
      await informer.stop();
      if (stopped) return;
      // Objects that vanished while the watch was stalled are gone from the new list: report them.
      const before = new Map(informer.list().map((o) => [key(o), o]));
      await informer.start().catch((err) => options.log?.(`re-list ${path} failed: ${message(err)}`));
      for (const o of informer.list()) before.delete(key(o));
      for (const o of before.values()) handlers.remove(o);
      for (const o of informer.list()) handlers.upsert(o);
    })();
  }, options.resyncMs ?? 60_000);
  resync.unref();
  return {
    list: () => informer.list(),
    get: (name, namespace) => informer.get(name, namespace),
    synced,
    async stop() {
      stopped = true;
      clearInterval(resync);
      await informer.stop();
    },
  };
}

/**
 * One request to the API server with the kubeconfig's credentials (client certificate or token, and its CA);
 * JSON in and out. Throws a KubeError carrying the status and the server's message.
 */
export async function requestJson(
  kc: KubeConfig,
  path: string,
  init: { method?: string; body?: unknown; contentType?: string } = {},
): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the kubeconfig');
  const url = new URL(`${cluster.server}${path}`);
  const options: https.RequestOptions = { method: init.method ?? 'GET', headers: {} };
  await kc.applyToHTTPSOptions(options);
  const body = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
  options.headers = {
    ...options.headers,
    Accept: 'application/json',
    ...(body
      ? { 'Content-Type': init.contentType ?? 'application/json', 'Content-Length': body.length }
      : {}),
  };
  const send = url.protocol === 'https:' ? https.request : http.request;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = send(url, { ...options, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url.pathname} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
  if (status >= 400) throw new KubeError(status, text);
  return text ? JSON.parse(text) : {};
}

export class KubeError extends Error {
  readonly status: number;
  constructor(status: number, body: string) {
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {}
    super(`HTTP ${status}: ${message}`);
    this.status = status;
  }
}

function key(o: KubernetesObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
