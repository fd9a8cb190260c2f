// The catalog serves the control-plane API's own write at once (ADR-39); the watch event of an earlier
// write that arrives after it must not bring the old spec back (a URL just deleted would answer again).
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { FunctionObject } from '../../../kube/resources.ts';
import { FunctionRegistry } from './function-registry.ts';
import { KubernetesCatalog } from './kubernetes-catalog.ts';

const fn = (resourceVersion: string, timeoutSeconds: number, uid = 'u1'): FunctionObject => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'Function',
  metadata: { name: 'f', namespace: 'default', uid, resourceVersion, generation: 1 },
  spec: {
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    code: { inline: { 'index.mjs': 'x' } },
    timeoutSeconds,
  } as unknown as FunctionObject['spec'],
});

describe('the Kubernetes catalog', () => {
  const setup = () => {
    const registry = new FunctionRegistry();
    return { registry, catalog: new KubernetesCatalog(new KubeConfig(), registry, () => {}) };
  };

  it('keeps a newer state over an earlier one seen later, and takes the next one', () => {
    const { registry, catalog } = setup();
    catalog.observeFunction(fn('12', 20));
    catalog.observeFunction(fn('11', 10));
    expect(registry.get('default', 'f')?.spec.timeoutSeconds).toBe(20);
    catalog.observeFunction(fn('13', 30));
    expect(registry.get('default', 'f')?.spec.timeoutSeconds).toBe(30);
  });

  it('takes a re-created object, and any state whose resourceVersion is not a number', () => {
    const { registry, catalog } = setup();
    catalog.observeFunction(fn('12', 20));
    catalog.observeFunction(fn('5', 10, 'u2'));
    expect(registry.get('default', 'f')?.spec.timeoutSeconds).toBe(10);
    catalog.observeFunction(fn('abc', 40, 'u2'));
    expect(registry.get('default', 'f')?.spec.timeoutSeconds).toBe(40);
  });
});
