// X-Ray ↔ W3C mapping, with the reference's own examples (§13.1, §13.2).
import { TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  formatXRayHeader,
  newXRayHeader,
  parseXRayHeader,
  rootFromTraceId,
  spanContextFromTraceparent,
  spanContextFromXRay,
  traceIdFromRoot,
  xrayHeaderFor,
} from '../../gateway/src/observability/trace-context.ts';

describe('X-Ray header (§13.1)', () => {
  it('parses Root, Parent, Sampled and Lineage, ignoring unknown keys and spaces', () => {
    expect(
      parseXRayHeader(
        'Root=1-5759e988-bd862e3fe1be46a994272793; Parent=53995c3f42cd8ad8;Sampled=1;Self=x;Lineage=a87bd80c:0',
      ),
    ).toEqual({
      root: '1-5759e988-bd862e3fe1be46a994272793',
      parent: '53995c3f42cd8ad8',
      sampled: true,
      lineage: 'a87bd80c:0',
    });
  });

  it('leaves the sampling decision open for Sampled=? and a missing Sampled', () => {
    expect(parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?')?.sampled).toBeUndefined();
    expect(parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793')).toMatchObject({
      parent: undefined,
      sampled: undefined,
    });
  });

  it.each([
    ['no Root', 'Parent=53995c3f42cd8ad8;Sampled=1'],
    ['a short Root', 'Root=1-5759e988-bd862e3f'],
    ['a Root of the wrong version', 'Root=2-5759e988-bd862e3fe1be46a994272793'],
    ['an all-zero trace', 'Root=1-00000000-000000000000000000000000'],
  ])('rejects %s', (_, header) => {
    expect(parseXRayHeader(header)).toBeUndefined();
  });

  it('drops a malformed Parent but keeps the trace', () => {
    expect(parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz')).toMatchObject({
      root: '1-5759e988-bd862e3fe1be46a994272793',
      parent: undefined,
    });
  });

  it('builds Root, then Parent if present, then Sampled defaulting to 0', () => {
    expect(formatXRayHeader({ root: '1-5759e988-bd862e3fe1be46a994272793' })).toBe(
      'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0',
    );
    expect(
      formatXRayHeader({
        root: '1-5759e988-bd862e3fe1be46a994272793',
        parent: '53995c3f42cd8ad8',
        sampled: true,
      }),
    ).toBe('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1');
  });

  it('starts new traces with the epoch in the Root, unsampled', () => {
    const header = newXRayHeader(0x5759e988 * 1000 + 999);
    expect(header).toMatch(/^Root=1-5759e988-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
  });
});

describe('W3C ↔ X-Ray (§13.2)', () => {
  it('trace-id is the Root without "1-" and the inner "-", and back', () => {
    expect(traceIdFromRoot('1-5759e988-bd862e3fe1be46a994272793')).toBe('5759e988bd862e3fe1be46a994272793');
    expect(rootFromTraceId('5759e988bd862e3fe1be46a994272793')).toBe('1-5759e988-bd862e3fe1be46a994272793');
  });

  it('maps parent-id to Parent and flags 01/00 to Sampled=1/0', () => {
    const sampled = spanContextFromTraceparent('00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01')!;
    expect(xrayHeaderFor(sampled)).toBe(
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    );
    const unsampled = spanContextFromTraceparent('00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00')!;
    expect(xrayHeaderFor(unsampled)).toMatch(/;Sampled=0$/);
  });

  it('turns an X-Ray header with a Parent into the same remote span context', () => {
    const header = parseXRayHeader(
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    )!;
    expect(spanContextFromXRay(header)).toEqual({
      traceId: '5759e988bd862e3fe1be46a994272793',
      spanId: '53995c3f42cd8ad8',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(spanContextFromXRay({ root: header.root })).toBeUndefined();
  });

  it('refuses a malformed traceparent', () => {
    expect(spanContextFromTraceparent('00-xyz-53995c3f42cd8ad8-01')).toBeUndefined();
    expect(
      spanContextFromTraceparent('00-00000000000000000000000000000000-53995c3f42cd8ad8-01'),
    ).toBeUndefined();
  });

  it('keeps a Lineage when building the header a function sees', () => {
    const context = spanContextFromTraceparent('00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01')!;
    expect(xrayHeaderFor(context, 'a87bd80c:0')).toMatch(/;Sampled=1;Lineage=a87bd80c:0$/);
  });
});
