// Put/GetFunctionRecursionConfig (reference §14.3): whether a function's recursive loops are stopped after
// 16 hops (`Terminate`, the default) or allowed. The setting is the function's `spec.recursiveLoop`; a PUT
// changes it like the other settings (setting-store.ts): in local mode a manifest's function is changed in
// its file instead, in a cluster the Function resource is written.
import type { Request, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { RECURSIVE_LOOP, type RecursiveLoop } from '../../../../apis/function.ts';
import type { FunctionChanges } from './function-changes.ts';
import { objectBody } from './function-handlers.ts';
import { localSettings, type SettingStore } from './setting-store.ts';

export function recursionConfigHandlers(
  changes: FunctionChanges,
  settings: SettingStore = localSettings(changes),
) {
  const fnOf = (req: Request) => changes.find(String(req.params.functionName)).fn;
  return {
    get(req: Request, res: Response) {
      res.json({ RecursiveLoop: fnOf(req).spec.recursiveLoop ?? 'Terminate' });
    },
    async put(req: Request, res: Response) {
      const value = objectBody(req).RecursiveLoop;
      if (!RECURSIVE_LOOP.includes(value as RecursiveLoop)) {
        throw new ApiError(
          'InvalidParameterValueException',
          `RecursiveLoop: must be one of ${RECURSIVE_LOOP.join(', ')}, got ${JSON.stringify(value ?? null)}`,
        );
      }
      await settings.commit(fnOf(req), undefined, (r) => ({
        ...r,
        spec: { ...r.spec, recursiveLoop: value as RecursiveLoop },
      }));
      res.json({ RecursiveLoop: value });
    },
  };
}
