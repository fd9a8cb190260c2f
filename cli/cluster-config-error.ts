// A cluster process's missing or bad setting. Its own module, so that `serval` knows the error without
// loading cluster.ts, which brings @kubernetes/client-node (about 17 MB of source) into every command.
export class ClusterConfigError extends Error {}
