/** What makes a username, a password and an invite code acceptable; no I/O here. */
import { AppError } from '../core/errors.ts';

export const USERNAME_PATTERN = /^[A-Za-z0-9_]{1,30}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
/** The rules in words, after the field's name: "username must be …" (the API: "username: must be …"). */
export const USERNAME_RULE = 'must be 1 to 30 letters, digits or underscores';
export const PASSWORD_RULE = `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`;

export function checkUsername(value: unknown): string {
  if (typeof value !== 'string' || !USERNAME_PATTERN.test(value)) {
    throw new AppError('invalid_request', `username ${USERNAME_RULE}`, { field: 'username' });
  }
  return value;
}

export function checkPassword(value: unknown): string {
  if (typeof value !== 'string' || value.length < PASSWORD_MIN || value.length > PASSWORD_MAX) {
    throw new AppError('invalid_request', `password ${PASSWORD_RULE}`, { field: 'password' });
  }
  return value;
}
