// Polls a condition instead of sleeping a fixed time: a loaded machine may take long, a quiet one is quick.

/** Resolves once `predicate` holds; rejects naming `what` after `ms` (generous by default). */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
