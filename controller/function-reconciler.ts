// Reconciles one Function in small idempotent phases: finalize on delete → validate → code → publish
// versions → status. Each phase reads what exists and only creates what is missing, so running it again
// (after a crash, a re-list, a conflict) is harmless.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { FunctionSpecSchema } from '../apis/function.ts';
import { functionUrlId } from '../gateway/src/front-door/function-urls/url-table.ts';
import { configHash } from '../gateway/src/versions/version-store.ts';
import { KubeError, requestJson } from '../kube/request.ts';
import {
  ANNOTATION_PUBLISH,
  FINALIZER,
  type FunctionObject,
  type FunctionStatus,
  functionsPath,
  LABEL_FUNCTION,
  LABEL_MANAGED,
  MANAGER,
  type RevisionData,
  type VersionStatus,
} from '../kube/resources.ts';
import { CodeError, ensureCodeConfigMap, ownerReference, resolveCode } from './code.ts';
import { resolveLayers } from './layers.ts';
import { recordEvent, setCondition } from './status.ts';

interface Revision {
  metadata: { name: string };
  revision: number;
  data: RevisionData;
}

export class FunctionReconciler {
  private readonly kc: KubeConfig;
  private readonly functionUrlDomain: string;
  /** Per Function uid: the code source last stored, and where. */
  private readonly stored = new Map<string, { source: string; codeSha256: string; codeConfigMap: string }>();

  constructor(kc: KubeConfig, functionUrlDomain: string) {
    this.kc = kc;
    this.functionUrlDomain = functionUrlDomain;
  }

  async reconcile(namespace: string, name: string): Promise<void> {
    let fn: FunctionObject;
    try {
      fn = (await requestJson(this.kc, `${functionsPath(namespace)}/${name}`)) as FunctionObject;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return; // gone, finalizer already done
      throw err;
    }
    const meta = fn.metadata!;
    if (meta.deletionTimestamp) {
      await this.finalize(fn);
      return;
    }
    if (!meta.finalizers?.includes(FINALIZER)) {
      await this.patch(fn, {
        metadata: {
          finalizers: [...(meta.finalizers ?? []), FINALIZER],
          resourceVersion: meta.resourceVersion,
        },
      });
      return; // the update comes back as an event and runs the rest
    }
    const status: FunctionStatus = { ...fn.status, observedGeneration: meta.generation };
    const parsed = FunctionSpecSchema.safeParse(fn.spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const message = `spec.${issue.path.join('.')}: ${issue.message}`;
      await this.writeStatus(
        fn,
        { ...status, conditions: ready(status, 'False', 'InvalidSpec', message) },
        'InvalidSpec',
        message,
      );
      return;
    }
    const spec = parsed.data;
    let codeConfigMap: string;
    let codeSha256: string;
    // Inline and URL code are fixed by the spec (a URL by its sha256): once stored, a re-list or a status
    // update must not download or write it again. A ConfigMap source can change, so it is read every time.
    // Held per Function, so a digest of the source, not the source (inline code can be large).
    const source = spec.code.configMap ? undefined : digest(JSON.stringify(spec.code));
    const known = this.stored.get(meta.uid!);
    try {
      if (spec.code.image) {
        // An image carries its own code: nothing to store, and its reference stands for the code.
        codeSha256 = createHash('sha256').update(spec.code.image.uri).digest('hex');
        codeConfigMap = '';
      } else if (source !== undefined && known?.source === source) {
        ({ codeSha256, codeConfigMap } = known);
      } else {
        const code = await resolveCode(this.kc, namespace, spec);
        codeSha256 = code.sha256;
        codeConfigMap = await ensureCodeConfigMap(this.kc, { namespace, name, uid: meta.uid! }, code);
        if (source !== undefined) this.stored.set(meta.uid!, { source, codeSha256, codeConfigMap });
      }
      // Checked on every pass: a layer published after the Function was applied makes it Ready.
      await resolveLayers(this.kc, namespace, spec);
    } catch (err) {
      if (!(err instanceof CodeError)) throw err;
      await this.writeStatus(
        fn,
        { ...status, conditions: ready(status, 'False', err.reason, err.message) },
        err.reason,
        err.message,
      );
      return;
    }
    status.codeSha256 = codeSha256;
    if (codeConfigMap) status.codeConfigMap = codeConfigMap;
    else delete status.codeConfigMap;

    const revisions = await this.revisions(namespace, name);
    const publishRequest = meta.annotations?.[ANNOTATION_PUBLISH];
    if (publishRequest && publishRequest !== status.lastPublishRequest) {
      const published = await this.publish(fn, spec, codeSha256, codeConfigMap, revisions);
      status.lastPublishRequest = publishRequest;
      if (published) revisions.push(published);
    }
    status.versions = revisions.map(versionStatus);
    status.latestVersion = revisions.at(-1)?.data.version;
    // The Host form: the gateway routes `<id>.<functionUrlDomain>` to this function and qualifier.
    if (spec.url) {
      const id = functionUrlId(namespace, name, spec.url.qualifier ?? '$LATEST');
      status.url = `http://${id}.${this.functionUrlDomain}/`;
    } else delete status.url;
    const message = `serving $LATEST (code ${codeSha256.slice(0, 12)})`;
    status.conditions = ready(status, 'True', 'Ready', message);
    await this.writeStatus(fn, status);
    const wasReady = fn.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (!wasReady) await recordEvent(this.kc, target(fn), 'Normal', 'Ready', message);
  }

  /** Publishes a version unless the last one has the same code and configuration (Lambda's rule). */
  private async publish(
    fn: FunctionObject,
    spec: FunctionObject['spec'],
    codeSha256: string,
    codeConfigMap: string,
    revisions: Revision[],
  ): Promise<Revision | undefined> {
    const meta = fn.metadata!;
    const hash = configHash(spec);
    const last = revisions.at(-1);
    if (last && last.data.codeSha256 === codeSha256 && last.data.configHash === hash) return undefined;
    const number = (last?.revision ?? 0) + 1;
    const revision: Revision = {
      metadata: { name: `${meta.name}-v${number}` },
      revision: number,
      data: {
        version: String(number),
        codeSha256,
        configHash: hash,
        publishedAt: new Date().toISOString(),
        codeConfigMap,
        spec,
      },
    };
    try {
      await requestJson(this.kc, `/apis/apps/v1/namespaces/${meta.namespace}/controllerrevisions`, {
        method: 'POST',
        body: {
          apiVersion: 'apps/v1',
          kind: 'ControllerRevision',
          metadata: {
            name: revision.metadata.name,
            namespace: meta.namespace,
            labels: { [LABEL_FUNCTION]: meta.name!, [LABEL_MANAGED]: MANAGER },
            ownerReferences: [ownerReference({ name: meta.name!, uid: meta.uid! })],
          },
          revision: number,
          data: revision.data,
        },
      });
    } catch (err) {
      // Already there: an earlier run published it and died before writing status.
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    }
    await recordEvent(this.kc, target(fn), 'Normal', 'Published', `published version ${number}`);
    return revision;
  }

  private async revisions(namespace: string, name: string): Promise<Revision[]> {
    const list = (await requestJson(
      this.kc,
      `/apis/apps/v1/namespaces/${namespace}/controllerrevisions?labelSelector=${encodeURIComponent(`${LABEL_FUNCTION}=${name}`)}`,
    )) as { items: Revision[] };
    return list.items.filter((r) => r.data?.version).sort((a, b) => a.revision - b.revision);
  }

  /** Deletes what the function owns (no garbage collector is assumed), then lets the Function go. */
  private async finalize(fn: FunctionObject): Promise<void> {
    const { namespace, name } = fn.metadata as { namespace: string; name: string };
    const selector = `?labelSelector=${encodeURIComponent(`${LABEL_FUNCTION}=${name}`)}`;
    for (const path of [
      `/api/v1/namespaces/${namespace}/pods`,
      `/apis/apps/v1/namespaces/${namespace}/controllerrevisions`,
      `/api/v1/namespaces/${namespace}/configmaps`,
    ]) {
      const list = (await requestJson(this.kc, `${path}${selector}`)) as {
        items: { metadata: { name: string; labels?: Record<string, string> } }[];
      };
      for (const item of list.items) {
        if (item.metadata.labels?.[LABEL_MANAGED] !== MANAGER) continue;
        await requestJson(this.kc, `${path}/${item.metadata.name}`, { method: 'DELETE' }).catch((err) => {
          if (!(err instanceof KubeError && err.status === 404)) throw err;
        });
      }
    }
    this.stored.delete(fn.metadata?.uid ?? '');
    const finalizers = (fn.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER);
    await this.patch(fn, { metadata: { finalizers, resourceVersion: fn.metadata?.resourceVersion } });
  }

  private async writeStatus(
    fn: FunctionObject,
    status: FunctionStatus,
    warning?: string,
    message?: string,
  ): Promise<void> {
    const { namespace, name } = fn.metadata as { namespace: string; name: string };
    const before = JSON.stringify(fn.status ?? {});
    if (before !== JSON.stringify(status)) {
      // A merge patch keeps fields it does not mention: a field dropped from the status is sent as null.
      const patch: Record<string, unknown> = { ...status };
      for (const field of Object.keys(fn.status ?? {})) if (!(field in status)) patch[field] = null;
      await requestJson(this.kc, `${functionsPath(namespace)}/${name}/status`, {
        method: 'PATCH',
        body: { status: patch },
        contentType: 'application/merge-patch+json',
      });
    }
    // An Event only when the condition is new, not on every re-list.
    const wasFailing = fn.status?.conditions?.find((c) => c.type === 'Ready')?.reason === warning;
    if (warning && message && !wasFailing)
      await recordEvent(this.kc, target(fn), 'Warning', warning, message);
  }

  private async patch(fn: FunctionObject, body: unknown): Promise<void> {
    const { namespace, name } = fn.metadata as { namespace: string; name: string };
    await requestJson(this.kc, `${functionsPath(namespace)}/${name}`, {
      method: 'PATCH',
      body,
      contentType: 'application/merge-patch+json',
    });
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

function ready(status: FunctionStatus, value: 'True' | 'False', reason: string, message: string) {
  return setCondition(status.conditions, {
    type: 'Ready',
    status: value,
    reason,
    message,
    observedGeneration: status.observedGeneration,
  });
}

function versionStatus(r: Revision): VersionStatus {
  return {
    version: r.data.version,
    codeSha256: r.data.codeSha256,
    configHash: r.data.configHash,
    publishedAt: r.data.publishedAt,
    revision: r.metadata.name,
  };
}

function target(fn: FunctionObject) {
  const m = fn.metadata!;
  return {
    apiVersion: 'serval.dev/v1alpha1',
    kind: 'Function',
    namespace: m.namespace!,
    name: m.name!,
    uid: m.uid!,
  };
}
