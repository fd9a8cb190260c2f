// One JSON request to the API server with a kubeconfig's credentials. Its own module, without the
// Kubernetes client's code (a KubeConfig is only passed in), so that modules that merely build or send a
// request, and local mode, which loads some of them, do not load the client's 17 MB of source.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * One request to the API server with the kubeconfig's credentials (client certificate or token, and its CA);
 * JSON in and out. Throws a KubeError carrying the status and the server's message.
 */
export async function requestJson(
  kc: KubeConfig,
  path: string,
  init: { method?: string; body?: unknown; contentType?: string; accept?: string } = {},
): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the kubeconfig');
  const url = new URL(`${cluster.server}${path}`);
  const options: https.RequestOptions = { method: init.method ?? 'GET', headers: {} };
  await kc.applyToHTTPSOptions(options);
  const body = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
  options.headers = {
    ...options.headers,
    Accept: init.accept ?? 'application/json',
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
