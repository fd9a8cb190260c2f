import { describe, expect, it } from 'vitest';
import { BeforeExitHook } from './before-exit.ts';
import { buildCallbackContext, type InvocationOutcomes } from './callback-context.ts';

function setup() {
  const posted: Array<{ kind: 'response' | 'error'; value: unknown }> = [];
  let nextCalls = 0;
  const outcomes: InvocationOutcomes = {
    respond: (value, then) => {
      posted.push({ kind: 'response', value });
      then();
    },
    fail: (value, then) => {
      posted.push({ kind: 'error', value });
      then();
    },
  };
  const hook = new BeforeExitHook();
  const built = buildCallbackContext(outcomes, hook, () => {
    nextCalls++;
  });
  return { ...built, posted, hook, nextCalls: () => nextCalls };
}

const immediate = () => new Promise((resolve) => setImmediate(resolve));

describe('callback', () => {
  it('waits for the event loop to drain by default', async () => {
    const { callback, posted, hook, nextCalls } = setup();
    callback(null, { ok: 1 });
    expect(posted).toEqual([]);
    hook.fire();
    await immediate();
    expect(posted).toEqual([{ kind: 'response', value: { ok: 1 } }]);
    expect(nextCalls()).toBe(1);
  });

  it('answers at once when callbackWaitsForEmptyEventLoop is false', () => {
    const { callback, members, posted } = setup();
    expect(members.callbackWaitsForEmptyEventLoop).toBe(true);
    members.callbackWaitsForEmptyEventLoop = false;
    callback(null, 'now');
    expect(posted).toEqual([{ kind: 'response', value: 'now' }]);
  });

  it('fails at once with an error, without waiting', () => {
    const { callback, posted } = setup();
    const error = new Error('x');
    callback(error);
    expect(posted).toEqual([{ kind: 'error', value: error }]);
  });

  it('counts only the first call of callback, succeed, fail or done', () => {
    const { callback, members, posted } = setup();
    members.succeed('first');
    members.fail(new Error('late'));
    members.done(null, 'later');
    callback(null, 'latest');
    expect(posted).toEqual([{ kind: 'response', value: 'first' }]);
  });
});

describe('legacy context methods', () => {
  it('fail() without a reason reports the string "handled"', () => {
    const { members, posted } = setup();
    members.fail();
    expect(posted).toEqual([{ kind: 'error', value: 'handled' }]);
  });

  it('done(error) fails and done(null, value) succeeds', () => {
    const a = setup();
    a.members.done('bad');
    expect(a.posted).toEqual([{ kind: 'error', value: 'bad' }]);
    const b = setup();
    b.members.done(null, 5);
    expect(b.posted).toEqual([{ kind: 'response', value: 5 }]);
  });

  it('ignores a late answer once the invocation was marked completed', () => {
    const { members, markCompleted, posted } = setup();
    markCompleted();
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args[0]);
    try {
      members.succeed('too late');
    } finally {
      console.error = original;
    }
    expect(posted).toEqual([]);
    expect(errors[0]).toMatch(/already been reported as done/);
  });
});

describe('BeforeExitHook', () => {
  it('runs its action once', () => {
    const hook = new BeforeExitHook();
    let runs = 0;
    hook.set(() => runs++);
    hook.fire();
    hook.fire();
    expect(runs).toBe(1);
  });
});
