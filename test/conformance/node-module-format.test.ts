// Module format of Node handlers, decided as on Lambda: the package scope ends at the code root. The test's
// code lives under Serval's own repository, whose package.json says "type": "module" — the situation of a
// developer running `serval dev` inside an ESM project.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

const CJS_HANDLER = 'exports.handler = async (event) => ({ cjs: typeof module === "object", event });\n';

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'inline-cjs',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: { 'index.js': CJS_HANDLER },
      },
      {
        name: 'path-cjs',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'cjs-in-esm-project'),
      },
      {
        // The function's own package.json says module: .js is ESM.
        name: 'root-esm',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: {
          'package.json': '{ "type": "module" }',
          'index.js': 'export const handler = async () => ({ esm: typeof module === "undefined" });\n',
        },
      },
      {
        // A nested directory with its own package.json follows Node's rules inside the root.
        name: 'nested-scopes',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: {
          'index.js':
            'exports.handler = async () => ({ esm: (await import("./esm/value.js")).value, cjs: require("./cjs/value.js").value });\n',
          'esm/package.json': '{ "type": "module" }',
          'esm/value.js': 'export const value = "from esm";\n',
          'cjs/value.js': 'exports.value = "from cjs";\n',
        },
      },
      {
        // An .mjs handler importing a plain .js file from the root: that file is CommonJS.
        name: 'mjs-imports-cjs',
        runtime: 'nodejs24.x',
        handler: 'app.handler',
        inline: {
          'app.mjs':
            'import lib from "./lib.js";\nexport const handler = async () => ({ value: lib.value });\n',
          'lib.js': 'exports.value = 42;\n',
        },
      },
      {
        // .cjs is CommonJS even where the function's package.json says module.
        name: 'explicit-cjs',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: { 'package.json': '{ "type": "module" }', 'index.cjs': CJS_HANDLER },
      },
      {
        // TypeScript follows the same rule (Node strips the types).
        name: 'ts-cjs',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: {
          'index.ts': 'exports.handler = async (event: unknown) => ({ ts: typeof module, event });\n',
        },
      },
    ],
  });
});
afterAll(() => serval.stop());

describe('Node.js module format', () => {
  it('inline index.js with exports.handler is CommonJS although the project around it is ESM', async () => {
    const res = await serval.invoke('inline-cjs', { a: 1 });
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(res.json()).toEqual({ cjs: true, event: { a: 1 } });
  });

  it('path code without its own package.json is CommonJS, require() included', async () => {
    const res = await serval.invoke('path-cjs', { b: 2 });
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(res.json()).toEqual({ format: 'cjs:{"b":2}', moduleType: 'object' });
  });

  it('the code root package.json "type": "module" makes .js an ES module', async () => {
    const res = await serval.invoke('root-esm');
    expect(res.json()).toEqual({ esm: true });
  });

  it('a nested package.json inside the root decides for its directory', async () => {
    const res = await serval.invoke('nested-scopes');
    expect(res.json()).toEqual({ esm: 'from esm', cjs: 'from cjs' });
  });

  it('an .mjs handler can import a CommonJS .js file of the same root', async () => {
    const res = await serval.invoke('mjs-imports-cjs');
    expect(res.json()).toEqual({ value: 42 });
  });

  it('.cjs stays CommonJS under a module package.json', async () => {
    const res = await serval.invoke('explicit-cjs', '"x"');
    expect(res.json()).toEqual({ cjs: true, event: 'x' });
  });

  it('a .ts handler without a package.json is CommonJS too', async () => {
    const res = await serval.invoke('ts-cjs', [1]);
    expect(res.json()).toEqual({ ts: 'object', event: [1] });
  });
});
