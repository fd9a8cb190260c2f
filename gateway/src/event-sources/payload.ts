// What filters see of a binary payload (MQ, NATS; reference §10.3): UTF-8 JSON as JSON, other UTF-8 text as a
// string, and anything else not at all, so the record is filtered on its metadata alone.

export function decodePayload(data: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
