// Marker/MaxItems paging as Lambda's List* operations do it: the marker is opaque to the caller (here the
// sort key of the last item returned, base64url), MaxItems is 1-10,000 and defaults to 50.
import { ApiError } from '../../../../apis/errors.ts';

export function pageOf<T extends { key: string }>(
  sorted: T[],
  marker: string | undefined,
  maxItems: string | undefined,
): { items: T[]; nextMarker: string | undefined } {
  const max = maxItems === undefined ? 50 : Number(maxItems);
  if (!Number.isInteger(max) || max < 1 || max > 10_000)
    throw new ApiError('InvalidParameterValueException', 'MaxItems: must be an integer from 1 to 10000');
  let start = 0;
  if (marker !== undefined && marker !== '') {
    const after = Buffer.from(marker, 'base64url').toString('utf8');
    if (Buffer.from(after, 'utf8').toString('base64url') !== marker)
      throw new ApiError('InvalidParameterValueException', 'Marker: is not a marker this API returned');
    start = sorted.findIndex((item) => item.key > after);
    if (start === -1) start = sorted.length;
  }
  const items = sorted.slice(start, start + max);
  const more = start + max < sorted.length;
  return {
    items,
    nextMarker: more ? Buffer.from(items.at(-1)!.key, 'utf8').toString('base64url') : undefined,
  };
}
