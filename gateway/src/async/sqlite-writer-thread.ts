// The SQLite queue's writer, on its own thread: a COMMIT waits for fsync, and that wait must not stall the
// gateway's event loop. It commits each batch it is sent in one transaction, each write in a savepoint.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { type BatchResult, PRAGMAS, type WriteBatch, type WriteOp } from './sqlite-write-ops.ts';

const db = new DatabaseSync(workerData.file as string);
db.exec(PRAGMAS);
const sql = {
  insert: db.prepare(
    'INSERT INTO events (request_id, not_before, accepted_at, body, payload) VALUES (?, ?, ?, ?, ?)',
  ),
  remove: db.prepare('DELETE FROM events WHERE seq = ?'),
  rememberKey: db.prepare('INSERT OR IGNORE INTO once_keys (key, at) VALUES (?, ?)'),
  // Keys outlive the events they guarded by a day: enough for any replica or restart to offer them again.
  forgetKeys: db.prepare('DELETE FROM once_keys WHERE at < ?'),
  reschedule: db.prepare('UPDATE events SET not_before = ?, body = ? WHERE seq = ?'),
  bury: db.prepare(
    'INSERT INTO dead_letters (namespace, function_name, condition, failed_at, reason, body, payload) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ),
  unbury: db.prepare('DELETE FROM dead_letters WHERE seq = ?'),
};

const KEY_MEMORY_MS = 86_400_000;

/** Applies one op; false when it was an `insertOnce` of a known key (nothing changed). */
function apply(op: WriteOp): boolean {
  switch (op.op) {
    case 'insert': {
      const r = op.row;
      sql.insert.run(r.requestId, r.notBefore, r.acceptedAt, r.body, r.payload);
      return true;
    }
    case 'insertOnce': {
      const r = op.row;
      sql.forgetKeys.run(r.acceptedAt - KEY_MEMORY_MS);
      if (sql.rememberKey.run(op.key, r.acceptedAt).changes === 0) return false;
      sql.insert.run(r.requestId, r.notBefore, r.acceptedAt, r.body, r.payload);
      return true;
    }
    case 'remove':
      sql.remove.run(op.seq);
      return true;
    case 'reschedule':
      sql.reschedule.run(op.notBefore, op.body, op.seq);
      return true;
    case 'bury': {
      const l = op.letter;
      sql.bury.run(l.namespace, l.functionName, l.condition, l.failedAt, l.reason, l.body, l.payload);
      return true;
    }
    case 'unbury':
      sql.unbury.run(op.seq);
      return true;
  }
}

function commit(batch: WriteBatch): BatchResult {
  const failures: Record<number, string> = {};
  const skipped: number[] = [];
  try {
    db.exec('BEGIN IMMEDIATE');
    batch.writes.forEach((write, i) => {
      db.exec('SAVEPOINT write');
      try {
        let changed = true;
        for (const op of write) changed = apply(op) && changed;
        if (!changed) skipped.push(i);
        db.exec('RELEASE write');
      } catch (err) {
        db.exec('ROLLBACK TO write');
        db.exec('RELEASE write');
        failures[i] = err instanceof Error ? err.message : String(err);
      }
    });
    db.exec('COMMIT');
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    return { id: batch.id, error: err instanceof Error ? err.message : String(err) };
  }
  const result: BatchResult = { id: batch.id };
  if (Object.keys(failures).length > 0) result.failures = failures;
  if (skipped.length > 0) result.skipped = skipped;
  return result;
}

parentPort!.on('message', (message: WriteBatch | 'close') => {
  if (message === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  parentPort!.postMessage(commit(message));
});
