/**
 * The one error type of the domain. Every failure a client can cause is an AppError with a code
 * from the API contract; the HTTP layer maps codes to statuses in one place.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_amount: 400,
  unauthorized: 401,
  forbidden: 403,
  // the content of a URL names another owner (issue 13)
  not_owner: 403,
  invite_required: 403,
  registration_closed: 403,
  not_found: 404,
  username_taken: 409,
  thing_exists: 409,
  flattr_once: 409,
  flattr_owner: 409,
  no_means: 402,
  period_open: 409,
  period_closed: 409,
  budget_out_of_range: 400,
  insufficient_funds: 409,
  payout_below_minimum: 400,
  reference_conflict: 409,
  invite_limit: 409,
  already_paid: 409,
  payload_too_large: 413,
  // an upload that is not a picture we can read, or one too many pixels to decode safely (issue 13)
  invalid_image: 422,
  // subscriptions and webhooks (issue 6)
  not_flattred: 409,
  subscription_exists: 409,
  subscription_ended: 409,
  webhook_limit: 409,
  // settlement between instances
  statement_refused: 422,
  settlement_not_accepted: 409,
  settlement_not_paid: 409,
  peer_blocked: 403,
  peer_limit: 409,
  peer_not_trusted: 409,
  // trust between instances, money side (issue 12)
  amount_too_large: 422,
  budget_committed: 409,
  unsupported_media_type: 415,
  // bank rails (src/banking/)
  invalid_iban: 400,
  invalid_reference: 400,
  bank_not_configured: 409,
  statement_malformed: 400,
  statement_schema_invalid: 400,
  statement_unsupported: 400,
  statement_wrong_account: 400,
  statement_wrong_currency: 400,
  entry_decided: 409,
  // card top-ups through Stripe (src/cards)
  cards_disabled: 404,
  invalid_signature: 400,
  rate_limited: 429,
  // what the framework and the router refuse (src/http/errors.ts)
  method_not_allowed: 405,
  not_acceptable: 406,
  request_timeout: 408,
  uri_too_long: 414,
  header_fields_too_large: 431,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
