import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { forwardTraceId } from './invoke-context.ts';
import { withTraceIdOverlay } from './trace-env.ts';

describe('withTraceIdOverlay', () => {
  it('reads, lists, copies and deletes _X_AMZN_TRACE_ID like any variable, without writing it below', () => {
    const real: NodeJS.ProcessEnv = { PATH: '/bin', _X_AMZN_TRACE_ID: 'Root=1-initial' };
    const env = withTraceIdOverlay(real);
    expect(env._X_AMZN_TRACE_ID).toBe('Root=1-initial');
    forwardTraceId(env, 'Root=1-abc');
    expect(env._X_AMZN_TRACE_ID).toBe('Root=1-abc');
    expect('_X_AMZN_TRACE_ID' in env).toBe(true);
    expect(Object.keys(env)).toEqual(['PATH', '_X_AMZN_TRACE_ID']);
    expect({ ...env }).toEqual({ PATH: '/bin', _X_AMZN_TRACE_ID: 'Root=1-abc' });
    expect(JSON.parse(JSON.stringify(env))).toEqual({ PATH: '/bin', _X_AMZN_TRACE_ID: 'Root=1-abc' });
    expect('_X_AMZN_TRACE_ID' in real).toBe(false);
    forwardTraceId(env, undefined);
    expect('_X_AMZN_TRACE_ID' in env).toBe(false);
    expect(Object.keys(env)).toEqual(['PATH']);
    env.OTHER = 'x';
    expect(real.OTHER).toBe('x');
  });

  // The regression itself: a fresh trace id per invocation written with setenv kept every value (glibc
  // never frees them), +27 to +39 MiB per 200,000 invocations. Memory, not time, so load does not matter.
  it.skipIf(process.platform !== 'linux')(
    'holds the runtime flat over 200,000 trace ids on the real process.env',
    async () => {
      const script = `
        const { withTraceIdOverlay } = await import(${JSON.stringify(join(import.meta.dirname, 'trace-env.ts'))});
        const { forwardTraceId } = await import(${JSON.stringify(join(import.meta.dirname, 'invoke-context.ts'))});
        process.env = withTraceIdOverlay(process.env);
        let n = 0;
        const phase = () => {
          for (let i = 0; i < 200000; i++, n++)
            forwardTraceId(process.env, 'Root=1-6750a1b2-' + String(n).padStart(24, '0') + ';Parent=0123456789abcdef;Sampled=0');
          globalThis.gc();
        };
        phase(); // warm-up: the heap and code reach their working size
        const before = process.memoryUsage().rss;
        phase();
        if (!process.env._X_AMZN_TRACE_ID.endsWith('399999;Parent=0123456789abcdef;Sampled=0')) throw new Error('lost');
        console.log(process.memoryUsage().rss - before);`;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--expose-gc', '--input-type=module', '-e', script],
        { timeout: 60_000 },
      );
      expect(Number(stdout) / 2 ** 20).toBeLessThan(8);
    },
    90_000,
  );
});
