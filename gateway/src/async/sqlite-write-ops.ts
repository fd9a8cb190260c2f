// The writes the SQLite queue makes, as plain data: they cross to the writer thread by postMessage.

export interface EventRow {
  requestId: string;
  notBefore: number;
  acceptedAt: number;
  /** The event without its payload, as JSON. */
  body: string;
  payload: Uint8Array;
}

export interface DeadLetterRow {
  namespace: string;
  functionName: string;
  condition: string;
  failedAt: number;
  reason: string;
  body: string;
  payload: Uint8Array;
}

export type WriteOp =
  | { op: 'insert'; row: EventRow }
  /** Inserts the event only if `key` is new; a known key makes the whole write a no-op (`skipped`). */
  | { op: 'insertOnce'; key: string; row: EventRow }
  | { op: 'remove'; seq: number }
  | { op: 'reschedule'; seq: number; notBefore: number; body: string }
  | { op: 'bury'; letter: DeadLetterRow }
  | { op: 'unbury'; seq: number };

/** One caller's write: its ops commit together or not at all. */
export type Write = WriteOp[];

export interface WriteBatch {
  id: number;
  writes: Write[];
}

export interface BatchResult {
  id: number;
  /** Per write, the error message if that write was undone; absent when everything committed. */
  failures?: Record<number, string>;
  /** The whole batch failed (the COMMIT itself). */
  error?: string;
  /** Writes that changed nothing because their `insertOnce` key was already known. */
  skipped?: number[];
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL,
  body TEXT NOT NULL,
  payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_due ON events (not_before, seq);
CREATE TABLE IF NOT EXISTS once_keys (
  key TEXT PRIMARY KEY,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace TEXT NOT NULL,
  function_name TEXT NOT NULL,
  condition TEXT NOT NULL,
  failed_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  body TEXT NOT NULL,
  payload BLOB NOT NULL
);
`;

/** WAL with a full fsync at every commit: a 202 means the event survives a crash of the machine, too. */
export const PRAGMAS = 'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;';
