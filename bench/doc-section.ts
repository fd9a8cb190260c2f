// Replaces one generated `## ` section of a markdown file (docs/benchmarks.md), so a bench run alone
// updates only its own part and keeps the rest.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const NOTES_HEADING = '## Reading these numbers';

/** Puts `section` in place of the one under `heading`, or before the hand-written notes, or at the end. */
export function writeSection(file: string, heading: string, section: string): void {
  const doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = doc.indexOf(heading);
  if (start < 0) {
    const notes = doc.indexOf(NOTES_HEADING);
    writeFileSync(
      file,
      notes < 0 ? `${doc.trimEnd()}\n\n${section}` : `${doc.slice(0, notes)}${section}\n${doc.slice(notes)}`,
    );
    return;
  }
  const next = doc.indexOf('\n## ', start + heading.length);
  writeFileSync(file, `${doc.slice(0, start)}${section}${next < 0 ? '' : doc.slice(next)}`);
}

/** The section under `heading` as `doc` has it now, so a run that skips that part keeps it. */
export function previousSection(doc: string, heading: string): string {
  const start = doc.indexOf(heading);
  if (start < 0) return '';
  const next = doc.indexOf('\n## ', start + heading.length);
  return doc.slice(start, next < 0 ? undefined : next + 1);
}
