import { describe, expect, it } from 'vitest';
import {
  HandlerNotFound,
  ImportModuleError,
  intoError,
  NodeJsExit,
  toErrorResponse,
  toFormattedError,
  toHeaderValue,
  UnhandledPromiseRejection,
} from './errors.ts';

describe('toErrorResponse', () => {
  it('reports an Error by name, message and stack lines under "trace"', () => {
    const error = new TypeError('bad input');
    const response = toErrorResponse(error);
    expect(response.errorType).toBe('TypeError');
    expect(response.errorMessage).toBe('bad input');
    expect(response.trace?.[0]).toBe('TypeError: bad input');
    expect(response.trace?.length).toBeGreaterThan(1);
  });

  it('reports a non-Error by its typeof and String() with an empty trace', () => {
    expect(toErrorResponse('boom')).toEqual({ errorType: 'string', errorMessage: 'boom', trace: [] });
    expect(toErrorResponse(42)).toEqual({ errorType: 'number', errorMessage: '42', trace: [] });
    expect(toErrorResponse({ a: 1 })).toEqual({
      errorType: 'object',
      errorMessage: '[object Object]',
      trace: [],
    });
  });

  it('treats an error-shaped object as an error', () => {
    const shaped = { name: 'Custom', message: 'shaped', stack: 'Custom: shaped\n    at x' };
    expect(toErrorResponse(shaped)).toEqual({
      errorType: 'Custom',
      errorMessage: 'shaped',
      trace: ['Custom: shaped', '    at x'],
    });
  });

  it('escapes DEL, which cannot travel in the error-type header', () => {
    const error = new Error('a\x7Fb');
    error.name = 'Bad\x7FName';
    const response = toErrorResponse(error);
    expect(response.errorType).toBe('Bad%7FName');
    expect(response.errorMessage).toBe('a%7Fb');
  });

  it('falls back to "handled" when the value cannot be read', () => {
    const hostile = new Error('x');
    Object.defineProperty(hostile, 'stack', { value: 5 });
    expect(toErrorResponse(hostile).errorType).toBe('handled');
  });
});

describe('runtime errors', () => {
  it('carry Runtime.* names, also in the first stack line, without an own name field', () => {
    const error = new ImportModuleError("Error: Cannot find module 'x'");
    expect(error.name).toBe('Runtime.ImportModuleError');
    expect(error.stack?.split('\n')[0]).toBe("Runtime.ImportModuleError: Error: Cannot find module 'x'");
    expect(Object.keys(error)).not.toContain('name');
    expect(new HandlerNotFound('h').name).toBe('Runtime.HandlerNotFound');
  });

  it("NodeJsExit has the official client's message", () => {
    expect(new NodeJsExit().message).toBe(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a ' +
        'Promise that was never settled. For more information, see ' +
        'https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  });

  it('UnhandledPromiseRejection stringifies its reason', () => {
    const error = new UnhandledPromiseRejection(new Error('late'), Promise.resolve());
    expect(error.name).toBe('Runtime.UnhandledPromiseRejection');
    expect(error.message).toBe('Error: late');
    expect(new UnhandledPromiseRejection(undefined, undefined).message).toBe('');
  });
});

describe('log renderings', () => {
  it('formats an error for Text logs as a tab and JSON with own fields and stack lines', () => {
    const error = Object.assign(new Error('broken'), { code: 'E_BROKEN', detail: 7 });
    const formatted = toFormattedError(error);
    expect(formatted.startsWith('\t')).toBe(true);
    const parsed = JSON.parse(formatted.slice(1));
    expect(parsed).toMatchObject({ errorType: 'Error', errorMessage: 'broken', code: 'E_BROKEN', detail: 7 });
    expect(parsed.stack[0]).toBe('Error: broken');
  });

  it('wraps non-Errors so they can be logged as errors', () => {
    expect(intoError('text').message).toBe('text');
    const error = new Error('kept');
    expect(intoError(error)).toBe(error);
  });

  it('strips characters a header value cannot hold', () => {
    expect(toHeaderValue('Runtime.Bad\nType')).toBe('Runtime.BadType');
  });
});
