/**
 * What every service needs: the database, the validated configuration, the one clock and a logger.
 * Services take it explicitly; nothing reads globals.
 */
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Clock } from './core/clock.ts';
import type { Period } from './core/period.ts';
import type { Database, DatabaseKind } from './db/database.ts';
import type { OutboundClient } from './net/outbound.ts';
import type { Directory, SettlementTransport } from './ports.ts';

export interface Context {
  readonly db: Database;
  readonly dbKind: DatabaseKind;
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * The network, through two ports (src/ports.ts): always present. A context starts with the
   * offline ones (they refuse); createInstance sets the ActivityPub adapter's once it is built.
   */
  directory: Directory;
  transport: SettlementTransport;
  /**
   * What follows every close (close/run.ts), in order, each after the close is done: the
   * composition root adds issuing the statements and telling accounts of unclaimed money, so the
   * close knows nothing of settlement. A hook's failure is logged and the next one runs.
   */
  readonly afterClose: AfterCloseHook[];
  /** What fetches URLs others chose (src/net/outbound.ts); made at first use unless a test sets it. */
  outbound?: OutboundClient;
}

export interface AfterCloseHook {
  /** What the log says when it fails, e.g. 'issuing the statements of the close failed'. */
  readonly failure: string;
  /** Runs after the close of `periods` (every period the close went through, oldest first). */
  run(ctx: Context, periods: readonly Period[]): Promise<unknown>;
}

/** A member as the services see them once authenticated. */
export interface Caller {
  readonly id: bigint;
  readonly username: string;
  readonly role: 'member' | 'admin';
  /** The member's wallet account, when the caller was looked up with it (saves a query per click). */
  readonly walletId?: bigint;
  /** What the caller's token may do (src/oauth/scopes.ts): a password token has every scope of the role. */
  readonly scopes: readonly string[];
  /** The SHA-256 (base64) of the token the caller was verified by: per-token rate limits key on it. */
  readonly tokenHash?: string;
  /** The row of that token: `current` in the token list, and the one a password change keeps. */
  readonly tokenId?: bigint;
  /** Whether that token was issued to an OAuth app (not made with the password, nor a session). */
  readonly viaApp?: boolean;
}
