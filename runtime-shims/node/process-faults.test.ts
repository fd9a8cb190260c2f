import { describe, expect, it } from 'vitest';
import { RuntimeLog } from './log-patch.ts';
import { FaultReporter, type FaultSink } from './process-faults.ts';

function setup(failPosts = false) {
  const posts: Array<{ to: string; error: unknown }> = [];
  const reply = () =>
    failPosts ? Promise.reject(new Error('down')) : Promise.resolve({ status: 202, body: '' });
  const sink: FaultSink = {
    postError: (requestId, error) => {
      posts.push({ to: requestId, error });
      return reply();
    },
    postInitError: (error) => {
      posts.push({ to: 'init', error });
      return reply();
    },
  };
  const records: string[] = [];
  const log = new RuntimeLog({ format: 'Text', level: 'TRACE', write: (r) => records.push(r) });
  const exits: number[] = [];
  let exited: () => void = () => {};
  const exitedOnce = new Promise<void>((resolve) => {
    exited = resolve;
  });
  const faults = new FaultReporter(sink, log, (code) => {
    exits.push(code);
    exited();
  });
  return { faults, posts, records, exits, exitedOnce };
}

describe('FaultReporter', () => {
  it('reports a fault during init as an init error and exits 129', async () => {
    const { faults, posts, records, exits, exitedOnce } = setup();
    const error = new Error('top-level');
    faults.uncaughtException(error);
    await exitedOnce;
    expect(posts).toEqual([{ to: 'init', error }]);
    expect(exits).toEqual([129]);
    expect(records[0]).toContain('\tundefined\tERROR\tUncaught Exception \t{"errorType":"Error"');
  });

  it('charges faults to the current invocation and reports unhandled rejections with exit 128', async () => {
    const { faults, posts, exits, exitedOnce } = setup();
    faults.invoking('req-9');
    faults.unhandledRejection('why', Promise.resolve());
    await exitedOnce;
    expect(posts[0]?.to).toBe('req-9');
    expect((posts[0]!.error as Error).name).toBe('Runtime.UnhandledPromiseRejection');
    expect(exits).toEqual([128]);
  });

  it('reports only the first of several faults, and exits even when the report fails', async () => {
    const { faults, posts, exits, exitedOnce } = setup(true);
    faults.uncaughtException(new Error('one'));
    faults.uncaughtException(new Error('two'));
    await exitedOnce;
    expect(posts).toHaveLength(1);
    expect(exits).toEqual([129]);
  });
});
