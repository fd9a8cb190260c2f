import { describe, expect, it } from 'vitest';
import { ConcurrencyLimits, type Lease } from './concurrency-limits.ts';

const lease = (x: Lease | string): Lease => {
  if (typeof x === 'string') throw new Error(`throttled: ${x}`);
  return x;
};

describe('ConcurrencyLimits', () => {
  it('caps a function at its reservation and frees the unit on release, once', () => {
    const limits = new ConcurrencyLimits(1000);
    limits.setReservation('ns', 'f', 2);
    const a = lease(limits.tryAcquire('ns', 'f'));
    lease(limits.tryAcquire('ns', 'f'));
    expect(limits.tryAcquire('ns', 'f')).toBe('ReservedFunctionConcurrentInvocationLimitExceeded');
    a.release();
    a.release();
    expect(limits.inUse('ns', 'f')).toBe(1);
    lease(limits.tryAcquire('ns', 'f'));
    expect(limits.tryAcquire('ns', 'f')).toBe('ReservedFunctionConcurrentInvocationLimitExceeded');
  });

  it('throttles every call of a function reserved at 0', () => {
    const limits = new ConcurrencyLimits(1000);
    limits.setReservation('ns', 'off', 0);
    expect(limits.tryAcquire('ns', 'off')).toBe('ReservedFunctionConcurrentInvocationLimitExceeded');
  });

  it('shares the unreserved pool (account limit minus reservations) among unreserved functions', () => {
    const limits = new ConcurrencyLimits(150);
    limits.setReservation('ns', 'big', 50);
    for (let i = 0; i < 100; i++) lease(limits.tryAcquire('ns', i % 2 ? 'a' : 'b'));
    expect(limits.tryAcquire('ns', 'a')).toBe('ConcurrentInvocationLimitExceeded');
    // The reserved function still has its own 50.
    lease(limits.tryAcquire('ns', 'big'));
    // Another namespace is another account.
    lease(limits.tryAcquire('other', 'a'));
  });

  it('refuses reservations that would leave less than 100 unreserved', () => {
    const limits = new ConcurrencyLimits(1000);
    limits.setReservation('ns', 'a', 800);
    expect(limits.checkReservation('ns', 'b', 101)).toMatch(/below its minimum value of \[100\]/);
    expect(limits.checkReservation('ns', 'b', 100)).toBeUndefined();
    expect(limits.checkReservation('ns', 'a', 900)).toBeUndefined(); // replacing its own reservation
    expect(() => limits.setReservation('ns', 'c', 200)).toThrow(/minimum value of \[100\]/);
  });
});

describe('ConcurrencyLimits with provisioned concurrency', () => {
  it('sets provisioned concurrency aside from the reservation: on-demand calls get the rest', () => {
    const limits = new ConcurrencyLimits(1000);
    limits.setReservation('ns', 'f', 3);
    expect(limits.checkProvisioned('ns', 'f', 4)).toMatch(
      /should not be greater than the reservedConcurrentExecution/,
    );
    expect(limits.checkProvisioned('ns', 'f', 2)).toBeUndefined();
    limits.setProvisioned('ns', 'f', 2);
    lease(limits.tryAcquire('ns', 'f'));
    expect(limits.tryAcquire('ns', 'f')).toBe('ReservedFunctionConcurrentInvocationLimitExceeded');
    // The reservation cannot drop below what is provisioned.
    expect(limits.checkReservation('ns', 'f', 1)).toMatch(
      /less than the function's provisioned concurrency \[2\]/,
    );
  });

  it('throttles every on-demand call when provisioned concurrency fills the reservation', () => {
    const limits = new ConcurrencyLimits(1000);
    limits.setReservation('ns', 'f', 2);
    limits.setProvisioned('ns', 'f', 2);
    expect(limits.tryAcquire('ns', 'f')).toBe('ReservedFunctionConcurrentInvocationLimitExceeded');
  });

  it('takes an unreserved function’s provisioned concurrency from the unreserved pool, keeping its minimum', () => {
    const limits = new ConcurrencyLimits(150);
    expect(limits.checkProvisioned('ns', 'f', 51)).toMatch(/below its minimum value of \[100\]/);
    limits.setProvisioned('ns', 'f', 50);
    expect(limits.snapshot()[0]?.unreservedLimit).toBe(100);
    // A reservation elsewhere may not eat into what is provisioned either.
    expect(limits.checkReservation('ns', 'g', 1)).toMatch(/below its minimum value/);
    limits.setProvisioned('ns', 'f', 0);
    expect(limits.checkReservation('ns', 'g', 50)).toBeUndefined();
  });
});
