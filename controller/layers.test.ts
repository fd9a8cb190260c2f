import { describe, expect, it } from 'vitest';
import { layerVolume } from './layers.ts';

describe('layerVolume', () => {
  it('takes each path from the last layer that has it, as Lambda extracts them in order', () => {
    const opt = layerVolume([
      {
        configMap: 'first',
        files: [
          { key: 'f0', path: 'nodejs/node_modules/a/index.js' },
          { key: 'f1', path: 'bin/tool', executable: true },
        ],
      },
      {
        configMap: 'second',
        files: [
          { key: 'f0', path: 'bin/tool' },
          { key: 'f1', path: 'notes.txt' },
        ],
      },
    ])!;
    expect(opt.volume.projected!.sources).toEqual([
      { configMap: { name: 'first', items: [{ key: 'f0', path: 'nodejs/node_modules/a/index.js' }] } },
      {
        configMap: {
          name: 'second',
          items: [
            { key: 'f0', path: 'bin/tool' },
            { key: 'f1', path: 'notes.txt' },
          ],
        },
      },
    ]);
    // One mount per top-level entry: /opt itself is the image's, with the agent in /opt/serval.
    expect(opt.mounts.map((m) => [m.mountPath, m.subPath, m.readOnly])).toEqual([
      ['/opt/bin', 'bin', true],
      ['/opt/nodejs', 'nodejs', true],
      ['/opt/notes.txt', 'notes.txt', true],
    ]);
  });

  it('keeps an executable mode, and leaves out a layer whose every file a later one replaced', () => {
    const opt = layerVolume([
      { configMap: 'hidden', files: [{ key: 'f0', path: 'bin/x' }] },
      { configMap: 'shown', files: [{ key: 'f0', path: 'bin/x', executable: true }] },
    ])!;
    // A source without items would project all of its keys.
    expect(opt.volume.projected!.sources).toEqual([
      { configMap: { name: 'shown', items: [{ key: 'f0', path: 'bin/x', mode: 0o755 }] } },
    ]);
    expect(layerVolume([])).toBeUndefined();
  });
});
