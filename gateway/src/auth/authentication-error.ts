// A caller that could not be authenticated: 401 with a Bearer challenge. It never carries the token,
// or anything decoded from it; the reason is one of a fixed set.

export type RejectionReason =
  | 'missing'
  | 'malformed'
  | 'unknown-issuer'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'algorithm-not-allowed'
  | 'unknown-key'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'missing-claim'
  | 'no-namespace'
  | 'invalid';

const REALM = 'serval';

/** What the caller is told: precise enough to act on, not an oracle for forging tokens. */
const DESCRIPTIONS: Partial<Record<RejectionReason, string>> = {
  expired: 'The bearer token has expired',
  'not-yet-valid': 'The bearer token is not valid yet',
};

export class AuthenticationError extends Error {
  readonly reason: RejectionReason;
  /** The configured issuer the token claimed, when it named one we know (never the raw claim). */
  readonly issuerName: string | undefined;
  readonly status = 401;
  readonly fault = 'User';

  constructor(reason: RejectionReason, issuerName?: string) {
    super(
      reason === 'missing'
        ? 'Missing Authentication Token: send Authorization: Bearer <JWT>'
        : (DESCRIPTIONS[reason] ?? 'The bearer token is not valid'),
    );
    this.name = 'AuthenticationError';
    this.reason = reason;
    this.issuerName = issuerName;
  }

  /** The exception name, in x-amzn-ErrorType as for every other API error. */
  get type(): string {
    return this.reason === 'missing' ? 'MissingAuthenticationTokenException' : 'UnrecognizedClientException';
  }

  /** RFC 6750 §3: no error code when no credentials came, `invalid_token` when they did not verify. */
  get headers(): Record<string, string> {
    const challenge =
      this.reason === 'missing'
        ? `Bearer realm="${REALM}"`
        : `Bearer realm="${REALM}", error="invalid_token", error_description="${this.message}"`;
    return { 'WWW-Authenticate': challenge };
  }

  body(): Record<string, string> {
    return { Type: 'User', message: this.message };
  }
}
