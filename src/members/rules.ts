/** What makes a username, a password and an invite code acceptable; no I/O here. */
import { AppError } from '../core/errors.ts';

export const USERNAME_PATTERN = /^[A-Za-z0-9_]{1,30}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

export function checkUsername(value: unknown): string {
  if (typeof value !== 'string' || !USERNAME_PATTERN.test(value)) {
    throw new AppError('invalid_request', 'username must be 1 to 30 letters, digits or underscores', { field: 'username' });
  }
  return value;
}

export function checkPassword(value: unknown): string {
  if (typeof value !== 'string' || value.length < PASSWORD_MIN || value.length > PASSWORD_MAX) {
    throw new AppError('invalid_request', `password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`, { field: 'password' });
  }
  return value;
}
