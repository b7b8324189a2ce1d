/**
 * The instance actor's identifier (federation.ts serves it at /actor). "~" is not allowed in
 * usernames, so no member can have it. A leaf, so the relays and the ports can name it without
 * importing the whole federation setup.
 */
export const INSTANCE_ACTOR = '~instance';
