// A SigV4 request refused, in AWS's words, with a fixed reason for the gateway's log. Neither carries the
// signature, a secret or any header value.
import { ApiError, type ApiExceptionName } from '../../../../apis/errors.ts';

export type SignatureRejection =
  | 'malformed'
  | 'unsupported-algorithm'
  | 'session-token'
  | 'unknown-key'
  | 'wrong-scope'
  | 'expired'
  | 'not-yet-valid'
  | 'payload-mismatch'
  | 'bad-signature';

export class SignatureError extends ApiError {
  readonly reason: SignatureRejection;
  /** The key id the request named, when it has a key id's shape (key ids are not secret). */
  readonly accessKeyId: string | undefined;

  constructor(
    type: Extract<
      ApiExceptionName,
      'InvalidSignatureException' | 'UnrecognizedClientException' | 'IncompleteSignatureException'
    >,
    reason: SignatureRejection,
    message: string,
    accessKeyId?: string,
  ) {
    super(type, message);
    this.reason = reason;
    this.accessKeyId = accessKeyId;
  }
}

export const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
export const UNKNOWN_KEY = 'The security token included in the request is invalid.';
