/**
 * OAuth's own errors (RFC 6749 5.2 and 4.1.2.1): the token and revocation endpoints answer
 * `{"error": "invalid_grant", "error_description": "..."}` as OAuth clients expect, not the JSON
 * API's error body; the authorization endpoint sends the code back to the app's redirect URI.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error';

export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;

  constructor(error: OAuthErrorCode, description: string, status = error === 'invalid_client' ? 401 : 400) {
    super(description);
    this.name = 'OAuthError';
    this.error = error;
    this.status = status;
  }

  body(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.message };
  }
}

/**
 * The authorization request cannot be trusted to send anyone back (unknown client, a redirect URI
 * the app did not register): the member sees the reason on our page instead (RFC 6749 4.1.2.1).
 */
export class UnsafeRedirectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeRedirectError';
  }
}
