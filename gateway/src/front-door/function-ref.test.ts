import { describe, expect, it } from 'vitest';
import type { ApiError } from '../../../apis/errors.ts';
import { parseFunctionRef } from './function-ref.ts';

describe('parseFunctionRef', () => {
  it.each([
    ['echo', undefined, { namespace: 'default', name: 'echo', qualifier: undefined }],
    ['echo:live', undefined, { namespace: 'default', name: 'echo', qualifier: 'live' }],
    ['echo', '3', { namespace: 'default', name: 'echo', qualifier: '3' }],
    ['media:function:thumb', undefined, { namespace: 'media', name: 'thumb', qualifier: undefined }],
    ['media:function:thumb:$LATEST', undefined, { namespace: 'media', name: 'thumb', qualifier: '$LATEST' }],
    [
      'arn:serval:lambda:local:media:function:thumb',
      undefined,
      { namespace: 'media', name: 'thumb', qualifier: undefined },
    ],
    [
      'arn:aws:lambda:us-east-1:media:function:thumb:7',
      '7',
      { namespace: 'media', name: 'thumb', qualifier: '7' },
    ],
  ])('%s (Qualifier %s)', (raw, qualifier, expected) => {
    expect(parseFunctionRef(raw, qualifier, 'default')).toEqual(expected);
  });

  it.each([
    ['bad name!', undefined],
    ['x'.repeat(65), undefined],
    ['echo:1', '2'],
    ['echo', 'bad qualifier'],
    ['a:b:c:d', undefined],
  ])('rejects %s (Qualifier %s) with InvalidParameterValueException', (raw, qualifier) => {
    expect(() => parseFunctionRef(raw, qualifier, 'default')).toThrow(
      expect.objectContaining({ type: 'InvalidParameterValueException' }) as ApiError,
    );
  });
});

describe('parseFunctionRef: partition and region', () => {
  it.each([
    'arn:aws-cn:lambda:local:media:function:thumb',
    'arn:awsfoo:lambda:local:media:function:thumb',
    'arn:aws:lambda:us-east-1:media:function:thumb',
  ])('refuses %s in region local with ResourceNotFoundException', (raw) => {
    expect(() => parseFunctionRef(raw, undefined, 'default', 'local')).toThrow(
      expect.objectContaining({ type: 'ResourceNotFoundException' }) as ApiError,
    );
  });

  it('accepts the aws partition in its own region', () => {
    expect(
      parseFunctionRef('arn:aws:lambda:local:media:function:thumb', undefined, 'default', 'local'),
    ).toEqual({
      namespace: 'media',
      name: 'thumb',
      qualifier: undefined,
    });
  });
});
