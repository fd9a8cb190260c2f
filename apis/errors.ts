// Lambda's wire error vocabulary in one closed table: Invoke API exceptions and in-environment error types.

/** Invoke API exceptions (reference §4.3): HTTP status and the casing of the message key in the body. */
export const API_EXCEPTIONS = {
  InvalidRequestContentException: { status: 400, messageKey: 'message' },
  InvalidParameterValueException: { status: 400, messageKey: 'message' },
  RecursiveInvocationException: { status: 400, messageKey: 'Message' },
  AccessDeniedException: { status: 403, messageKey: 'Message' },
  /** SigV4 (reference §14.4): a signature that does not match, a wrong scope, or a stale date. */
  InvalidSignatureException: { status: 403, messageKey: 'message' },
  /** SigV4: an access key nobody issued (or one revoked). */
  UnrecognizedClientException: { status: 403, messageKey: 'message' },
  /** SigV4: an Authorization header or presigned query missing one of its parts. */
  IncompleteSignatureException: { status: 403, messageKey: 'message' },
  ResourceNotFoundException: { status: 404, messageKey: 'Message' },
  ResourceConflictException: { status: 409, messageKey: 'message' },
  ProvisionedConcurrencyConfigNotFoundException: { status: 404, messageKey: 'message' },
  /** Control plane: a stale RevisionId, and the account's code storage full (reference §14.3). */
  PreconditionFailedException: { status: 412, messageKey: 'message' },
  CodeStorageExceededException: { status: 400, messageKey: 'message' },
  /** Code signing under Enforce: the code is unsigned, signed by an untrusted key, or altered. */
  CodeVerificationFailedException: { status: 400, messageKey: 'message' },
  RequestTooLargeException: { status: 413, messageKey: 'message' },
  UnsupportedMediaTypeException: { status: 415, messageKey: 'message' },
  TooManyRequestsException: { status: 429, messageKey: 'message' },
  UnknownOperationException: { status: 404, messageKey: 'message' },
  ServiceException: { status: 500, messageKey: 'Message' },
  ResourceNotReadyException: { status: 502, messageKey: 'Message' },
  /** AWS's common error for a temporary failure (reference §4.3); SDKs retry it. */
  ServiceUnavailable: { status: 503, messageKey: 'message' },
} as const;
export type ApiExceptionName = keyof typeof API_EXCEPTIONS;

/** An error that reaches the caller as a Lambda API exception; `fault` says who caused it. */
export class ApiError extends Error {
  readonly type: ApiExceptionName;
  readonly extra: Record<string, string>;
  readonly headers: Record<string, string>;
  constructor(
    type: ApiExceptionName,
    message: string,
    opts: { extra?: Record<string, string>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = type;
    this.type = type;
    this.extra = opts.extra ?? {};
    this.headers = opts.headers ?? {};
  }
  get status(): number {
    return API_EXCEPTIONS[this.type].status;
  }
  get fault(): 'User' | 'Service' {
    return this.status >= 500 ? 'Service' : 'User';
  }
  body(): Record<string, string> {
    return { ...this.extra, Type: this.fault, [API_EXCEPTIONS[this.type].messageKey]: this.message };
  }
}

/** Error types produced inside an environment by the platform (reference §1.7, RIE fatalerror). */
export const PLATFORM_ERROR_TYPES = [
  'Runtime.ExitError',
  'Runtime.InvalidEntrypoint',
  'Runtime.InvalidResponseModeHeader',
  'Runtime.TruncatedResponse',
  'Runtime.Unknown',
  'Function.ResponseSizeTooLarge',
  'Function.Unknown',
  'Sandbox.Timedout',
  'Sandbox.Failure',
] as const;
export type PlatformErrorType = (typeof PLATFORM_ERROR_TYPES)[number];

/** The RIE's normalisation of a runtime-reported error type header (reference §1.4). */
export function normaliseErrorType(value: string | undefined): string {
  if (value && /^(Runtime|Function)\.[A-Z][a-zA-Z]+$/.test(value)) return value;
  if (value?.startsWith('Function.')) return 'Function.Unknown';
  return 'Runtime.Unknown';
}
