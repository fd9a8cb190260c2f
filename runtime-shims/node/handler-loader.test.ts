import { describe, expect, it } from 'vitest';
import { MalformedHandlerName } from './errors.ts';
import { isThenable, parseHandlerName } from './handler-loader.ts';

describe('parseHandlerName', () => {
  it('splits module and export', () => {
    expect(parseHandlerName('index.handler')).toEqual({
      moduleRoot: '',
      moduleName: 'index',
      exportPath: 'handler',
    });
  });

  it('keeps a directory prefix and a nested export path', () => {
    expect(parseHandlerName('src/api/app.routes.get')).toEqual({
      moduleRoot: 'src/api/',
      moduleName: 'app',
      exportPath: 'routes.get',
    });
  });

  it('rejects a name without an export as "Bad handler"', () => {
    expect(() => parseHandlerName('index')).toThrow(MalformedHandlerName);
    expect(() => parseHandlerName('')).toThrow('Bad handler');
  });

  it('rejects relative parent paths', () => {
    expect(() => parseHandlerName('../outside.handler')).toThrow(
      "'../outside.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.",
    );
  });
});

describe('isThenable', () => {
  it('accepts promises and promise-likes only', () => {
    expect(isThenable(Promise.resolve(1))).toBe(true);
    // biome-ignore lint/suspicious/noThenProperty: a hand-made thenable is exactly what this test needs
    expect(isThenable({ then: () => {} })).toBe(true);
    // biome-ignore lint/suspicious/noThenProperty: a non-callable then must not count
    expect(isThenable({ then: 1 })).toBe(false);
    expect(isThenable(null)).toBe(false);
    expect(isThenable('then')).toBe(false);
  });
});
