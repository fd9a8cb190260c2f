// X-Ray trace headers and W3C trace context, and the mapping between them (reference §13): the gateway
// speaks W3C inside, and every function sees the same trace as an X-Ray header.
import { type SpanContext, TraceFlags } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';
import { randomHex } from './random-hex.ts';

export interface XRayHeader {
  /** `1-<8 hex epoch>-<24 hex>`. */
  root: string;
  /** 16 hex: the calling segment (span). */
  parent?: string | undefined;
  /** Undefined when the header leaves the decision to the receiver (`Sampled=?` or absent). */
  sampled?: boolean | undefined;
  /** Loop detection; passed through untouched. */
  lineage?: string | undefined;
}

const ROOT = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE = '0'.repeat(32);

/** Splits on `;` then `=`; unknown keys are ignored. A header without a well-formed Root is no header. */
export function parseXRayHeader(header: string | undefined): XRayHeader | undefined {
  if (!header) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const root = fields.get('Root')?.toLowerCase();
  if (!root || !ROOT.test(root) || root.slice(2).replace('-', '') === ZERO_TRACE) return undefined;
  const parent = fields.get('Parent')?.toLowerCase();
  const sampled = fields.get('Sampled');
  return {
    root,
    parent: parent && SPAN_ID.test(parent) && parent !== '0'.repeat(16) ? parent : undefined,
    sampled: sampled === '1' ? true : sampled === '0' ? false : undefined,
    lineage: fields.get('Lineage'),
  };
}

/** `Root=…`, then `Parent=…` if present, then `Sampled=<1|0>` defaulting to 0, as the RIE builds it. */
export function formatXRayHeader(h: XRayHeader): string {
  const parent = h.parent ? `;Parent=${h.parent}` : '';
  const lineage = h.lineage ? `;Lineage=${h.lineage}` : '';
  return `Root=${h.root}${parent};Sampled=${h.sampled ? 1 : 0}${lineage}`;
}

/** `1-5759e988-bd862e3fe1be46a994272793` → `5759e988bd862e3fe1be46a994272793`. */
export function traceIdFromRoot(root: string): string {
  return root.slice(2, 10) + root.slice(11);
}

/** `5759e988bd862e3fe1be46a994272793` → `1-5759e988-bd862e3fe1be46a994272793`. */
export function rootFromTraceId(traceId: string): string {
  return `1-${traceId.slice(0, 8)}-${traceId.slice(8, 32)}`;
}

/** The X-Ray header naming `context` as the parent: what a function called from that span sees. */
export function xrayHeaderFor(context: SpanContext, lineage?: string): string {
  return formatXRayHeader({
    root: rootFromTraceId(context.traceId),
    parent: context.spanId,
    sampled: (context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
    lineage,
  });
}

/** A remote parent from an X-Ray header; undefined without a Parent (a trace id alone names no span). */
export function spanContextFromXRay(h: XRayHeader): SpanContext | undefined {
  if (!h.parent) return undefined;
  return {
    traceId: traceIdFromRoot(h.root),
    spanId: h.parent,
    traceFlags: h.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  };
}

/** A remote parent from a W3C `traceparent`; undefined when malformed. */
export function spanContextFromTraceparent(traceparent: string | undefined): SpanContext | undefined {
  if (!traceparent) return undefined;
  const context = parseTraceParent(traceparent.trim());
  if (!context) return undefined;
  return { ...context, isRemote: true };
}

/** A fresh, unsampled trace for an invocation that arrives with none (trace id starts with the epoch). */
export function newXRayHeader(now = Date.now()): string {
  const epoch = Math.floor(now / 1000)
    .toString(16)
    .padStart(8, '0');
  return formatXRayHeader({
    root: `1-${epoch}-${randomHex(12)}`,
    parent: randomHex(8),
    sampled: false,
  });
}
