// Every invocation's trace header carries the Lineage of recursive-loop detection (gateway/src/invocation/
// lineage.ts); tests about the rest of the header check the first hop's entry and compare what is left.
import { expect } from 'vitest';

const FIRST_HOP = /;Lineage=[0-9a-f]{8}:1$/;

/** `header` without its first-hop Lineage field, which it must end with. */
export function withoutFirstHop(header: string | undefined): string {
  expect(header).toMatch(FIRST_HOP);
  return header!.replace(FIRST_HOP, '');
}
