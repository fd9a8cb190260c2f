// `_X_AMZN_TRACE_ID` changes with every invocation. Written to the real environment, each fresh value went
// through glibc's setenv, which keeps every value it was ever given (a caller of getenv may still hold the
// old string): about 150 bytes of the runtime's memory per invocation, never returned. The variable lives
// in JavaScript over the real environment instead; every other key passes straight through, so Node's own
// handling (TZ, string coercion) and child processes, which copy `process.env`'s keys, see what they did.
const KEY = '_X_AMZN_TRACE_ID';

/** `real` with `_X_AMZN_TRACE_ID` held in JavaScript; install it as `process.env`. */
export function withTraceIdOverlay(real: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  let traceId = real[KEY];
  delete real[KEY];
  return new Proxy(real, {
    get: (target, key) => (key === KEY ? traceId : Reflect.get(target, key)),
    set: (target, key, value) => {
      if (key !== KEY) return Reflect.set(target, key, value);
      traceId = String(value);
      return true;
    },
    has: (target, key) => (key === KEY ? traceId !== undefined : Reflect.has(target, key)),
    deleteProperty: (target, key) => {
      if (key !== KEY) return Reflect.deleteProperty(target, key);
      traceId = undefined;
      return true;
    },
    ownKeys: (target) => {
      const keys = Reflect.ownKeys(target);
      return traceId === undefined ? keys : [...keys, KEY];
    },
    getOwnPropertyDescriptor: (target, key) => {
      if (key !== KEY) return Reflect.getOwnPropertyDescriptor(target, key);
      return traceId === undefined
        ? undefined
        : { value: traceId, writable: true, enumerable: true, configurable: true };
    },
    defineProperty: (target, key, descriptor) => {
      if (key !== KEY) return Reflect.defineProperty(target, key, descriptor);
      traceId = String(descriptor.value);
      return true;
    },
  });
}
