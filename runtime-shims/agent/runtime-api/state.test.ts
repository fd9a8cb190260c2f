import { describe, expect, it } from 'vitest';
import { RuntimeStateMachine, StateTransitionError } from './state.ts';

describe('RuntimeStateMachine', () => {
  it('walks init → invoke → response → next', () => {
    const m = new RuntimeStateMachine();
    for (const to of ['Ready', 'Running', 'InvocationResponse', 'ResponseSent', 'Ready'] as const)
      m.transition(to);
    expect(m.state).toBe('Ready');
  });

  it.each([
    ['Started', 'Running'],
    ['Started', 'InvocationResponse'],
    ['Ready', 'Ready'],
    ['Ready', 'InitError'],
    ['Running', 'Ready'],
    ['ResponseSent', 'InvocationResponse'],
    ['InitError', 'Ready'],
  ] as const)('refuses %s → %s with the RIE message', (from, to) => {
    const m = new RuntimeStateMachine();
    m.state = from;
    expect(() => m.transition(to)).toThrow(StateTransitionError);
    expect(() => m.transition(to)).toThrow(`State transition from ${from} to ${to} failed for runtime.`);
    expect(m.state).toBe(from);
  });
});
