// JSON that fits in an HTTP header: re-serialised compactly (no raw CR/LF between tokens) with every
// character outside printable ASCII written as a \u escape, so it parses back to the same value.
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A JSON header value made header-safe, or undefined when it is not JSON at all. */
export function headerSafeJson(text: string): string | undefined {
  try {
    return asciiJson(JSON.parse(text));
  } catch {
    return undefined;
  }
}
