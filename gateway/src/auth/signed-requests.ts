// SigV4 in front of every Lambda API and operator route, whatever the route: a signed request is verified
// here, body included, before any route or guard runs, and the key holder is remembered for the
// authorizer. The body is put back, so each route parses it with its own parser as if untouched.
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { ApiError } from '../../../apis/errors.ts';
import type { WireRequest } from '../../../apis/sigv4.ts';
import { BodyTooLargeError, peekRawBody } from '../front-door/raw-body.ts';
import { type Authorizer, callerOf } from './authorizer.ts';
import { LAMBDA_API, OPERATOR_API } from './control-plane-guard.ts';
import type { Principal } from './policy.ts';
import { isSigV4 } from './sigv4/signed-claim.ts';

/**
 * The largest body a signed request may carry: CreateFunction's 50 MB zip, base64-encoded in JSON. Routes
 * keep their own, smaller limits.
 */
export const SIGNED_BODY_LIMIT = 70 * 1024 * 1024;

const principals = new WeakMap<IncomingMessage, Principal>();

/** Who signed this request, when its signature verified. */
export function signedPrincipal(req: IncomingMessage): Principal | undefined {
  return principals.get(req);
}

export function signatureAuthentication(authorizer: Authorizer): RequestHandler {
  return async (req, _res, next) => {
    if (!authorizer.enabled) return next(); // with auth off, the SDKs' signatures are not looked at
    if (!LAMBDA_API.test(req.path) && !req.path.startsWith(OPERATOR_API)) return next();
    const request: WireRequest = { method: req.method, url: req.originalUrl, headers: req.headersDistinct };
    if (!isSigV4(request)) return next();
    const principal = await authorizer.authenticateSignature(request, callerOf(req).sourceIp, () =>
      hasBody(req) ? peekRawBody(req, SIGNED_BODY_LIMIT).catch(tooLarge) : Promise.resolve(Buffer.alloc(0)),
    );
    principals.set(req, principal);
    next();
  };
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

function tooLarge(err: unknown): never {
  if (err instanceof BodyTooLargeError) {
    throw new ApiError('RequestTooLargeException', `Request must be smaller than ${SIGNED_BODY_LIMIT} bytes`);
  }
  throw err;
}
