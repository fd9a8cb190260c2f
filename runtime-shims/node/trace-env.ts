// `_X_AMZN_TRACE_ID` changes with every invocation. Written to the real environment, each fresh value went
// through glibc's setenv, which keeps every value it was ever given (a caller of getenv may still hold the
// old string): about 150 bytes of the runtime's memory per invocation, never returned. The variable lives
// in JavaScript over the real environment instead; every other key passes straight through, so Node's own
// handling (TZ, string coercion) and child processes, which copy `process.env`'s keys, see what they did.
// With several invocations at once (multi-concurrency) each reads its own: the value comes from the
// invocation scope of the code that asks.
import type { InvocationScope } from './invocation-scope.ts';

const KEY = '_X_AMZN_TRACE_ID';

/** `real` with `_X_AMZN_TRACE_ID` held in JavaScript; install it as `process.env`. */
export function withTraceIdOverlay(real: NodeJS.ProcessEnv, scope?: InvocationScope): NodeJS.ProcessEnv {
  let stored = real[KEY];
  delete real[KEY];
  const current = () => {
    const invocation = scope?.current();
    return invocation ? invocation.traceId : stored;
  };
  return new Proxy(real, {
    get: (target, key) => (key === KEY ? current() : Reflect.get(target, key)),
    set: (target, key, value) => {
      if (key !== KEY) return Reflect.set(target, key, value);
      stored = String(value);
      return true;
    },
    has: (target, key) => (key === KEY ? current() !== undefined : Reflect.has(target, key)),
    deleteProperty: (target, key) => {
      if (key !== KEY) return Reflect.deleteProperty(target, key);
      stored = undefined;
      return true;
    },
    ownKeys: (target) => {
      const keys = Reflect.ownKeys(target);
      return current() === undefined ? keys : [...keys, KEY];
    },
    getOwnPropertyDescriptor: (target, key) => {
      if (key !== KEY) return Reflect.getOwnPropertyDescriptor(target, key);
      const traceId = current();
      return traceId === undefined
        ? undefined
        : { value: traceId, writable: true, enumerable: true, configurable: true };
    },
    defineProperty: (target, key, descriptor) => {
      if (key !== KEY) return Reflect.defineProperty(target, key, descriptor);
      stored = String(descriptor.value);
      return true;
    },
  });
}
