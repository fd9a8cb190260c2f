// Builds zip files for tests with Python's zipfile (python3 is a test prerequisite already), including the
// awkward entries real zips can hold: symbolic links, `..` paths and large runs of zeros.
import { execFileSync } from 'node:child_process';

export type ZipEntry =
  | string
  | { text: string; mode?: number }
  | { link: string }
  /** `bytes` zero bytes, deflated (a zip bomb in miniature), or random ones stored as they are. */
  | { zeros: number }
  | { random: number };

const SCRIPT = `
import io, json, os, sys, zipfile
entries = json.load(sys.stdin)
out = io.BytesIO()
with zipfile.ZipFile(out, 'w') as z:
    for name, e in entries.items():
        if isinstance(e, str):
            e = {'text': e}
        info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
        info.create_system = 3
        if 'link' in e:
            info.external_attr = (0o120777 << 16)
            z.writestr(info, e['link'])
        elif 'zeros' in e:
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 << 16)
            with z.open(info, 'w', force_zip64=True) as f:
                left = e['zeros']
                chunk = bytes(1 << 20)
                while left > 0:
                    f.write(chunk[:min(left, len(chunk))]); left -= len(chunk)
        elif 'random' in e:
            info.external_attr = (0o100644 << 16)
            z.writestr(info, os.urandom(e['random']))
        else:
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | e.get('mode', 0o644)) << 16
            z.writestr(info, e['text'])
sys.stdout.buffer.write(out.getvalue())
`;

export function makeZip(entries: Record<string, ZipEntry>): Buffer {
  return execFileSync('python3', ['-c', SCRIPT], {
    input: JSON.stringify(entries),
    maxBuffer: 256 * 1024 * 1024,
  });
}
