// Per-record work done once, and only when needed: a record's JSON is serialized once, for both the 6 MB cap
// and the invoke payload, and the decoded body filters see is parsed only when the mapping has filters.

/** Defines `filterView` on `record` as computed on first read (a mapping without filters never reads it). */
export function lazyFilterView<R extends object>(
  record: R,
  view: () => Record<string, unknown>,
): R & { readonly filterView: Record<string, unknown> } {
  let cached: Record<string, unknown> | undefined;
  return Object.defineProperty(record, 'filterView', {
    get: () => (cached ??= view()),
    enumerable: true,
  }) as R & { readonly filterView: Record<string, unknown> };
}

/** `{"Records":[…]}` from each record's JSON: byte for byte what JSON.stringify gives for the whole event. */
export function recordsPayload(records: readonly { readonly eventJson: string }[]): Buffer {
  return Buffer.from(`{"Records":[${records.map((r) => r.eventJson).join(',')}]}`);
}
