// Loads the Kubernetes client configuration once: a kubeconfig file when KUBECONFIG is set (tests, running
// outside a cluster), the pod's ServiceAccount otherwise.
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig();
  if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
  else kc.loadFromCluster();
  return kc;
}
