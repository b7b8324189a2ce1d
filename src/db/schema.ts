/**
 * Table types for kysely. They mirror migrations/; a column's type is what the database hands
 * back (int8 as bigint, timestamptz as Date).
 */
import type { ColumnType, Generated, GeneratedAlways } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;

export interface SettingsTable {
  key: string;
  value: ColumnType<unknown, string, string>;
}

export interface MembersTable {
  id: GeneratedAlways<bigint>;
  username: string;
  password_hash: string;
  role: 'member' | 'admin';
  listed: Generated<boolean>;
  invited_with: string | null;
  created_at: Timestamp;
}

export interface InvitesTable {
  code: string;
  created_by: bigint | null;
  created_at: Timestamp;
  used_by: bigint | null;
  used_at: Timestamp | null;
}

export interface TokensTable {
  id: GeneratedAlways<bigint>;
  member_id: bigint;
  secret_hash: Uint8Array;
  kind: 'api' | 'session';
  created_at: Timestamp;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export type AccountType =
  | 'external'
  | 'wallet'
  | 'fees'
  | 'clearing'
  | 'holds'
  | 'unclaimed'
  | 'payouts'
  | 'charity_reserve'
  | 'peer';

export interface AccountsTable {
  id: GeneratedAlways<bigint>;
  code: string;
  type: AccountType;
  member_id: bigint | null;
  currency: string;
  created_at: Timestamp;
}

export interface TransfersTable {
  id: GeneratedAlways<bigint>;
  debit_account_id: bigint;
  credit_account_id: bigint;
  amount: bigint;
  currency: string;
  kind: string;
  period: string;
  reference: string | null;
  idempotency_key: string | null;
  created_at: Timestamp;
}

export interface AccountBalancesTable {
  account_id: bigint;
  balance: bigint;
}

export interface BudgetsTable {
  member_id: bigint;
  period: string;
  amount: bigint;
  set_at: Timestamp;
}

export interface ThingsTable {
  id: string;
  url: string;
  title: string | null;
  /** Exactly one of the two owners (migrations/0004_federation.ts). */
  owner_member_id: bigint | null;
  owner_actor_id: bigint | null;
  /** A remote thing's own IRI; null for local things (their uri is derived from the id). */
  uri: string | null;
  created_at: Timestamp;
}

export interface PeriodsTable {
  period: string;
  state: 'open' | 'closing';
}

export interface FlattrsTable {
  id: string;
  seq: GeneratedAlways<bigint>;
  member_id: bigint;
  thing_id: string;
  period: string;
  created_at: Timestamp;
  withdrawn_at: Timestamp | null;
}

export interface PayoutsTable {
  id: string;
  member_id: bigint;
  amount: bigint;
  state: 'requested' | 'paid';
  requested_at: Timestamp;
  paid_at: Timestamp | null;
  reference: string | null;
}

export type CloseStage = 'charging' | 'splitting' | 'booking' | 'done';

export interface ClosesTable {
  period: string;
  stage: CloseStage;
  fee_ppm: bigint;
  idle_budget: 'charity' | 'keep';
  charity_member_id: bigint | null;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  summary: ColumnType<unknown, string | null, string | null>;
}

export interface CloseChargesTable {
  period: string;
  member_id: bigint;
  budget: bigint;
  balance: bigint;
  charged: bigint;
  flattr_count: number;
  funded: boolean;
}

export interface SharesTable {
  flattr_id: string;
  period: string;
  payer_member_id: bigint;
  thing_id: string;
  recipient_member_id: bigint | null;
  recipient_actor_id: bigint | null;
  gross: bigint;
  fee: bigint;
  net: bigint;
  disposition: 'paid' | 'held' | 'charity' | 'peer' | 'unclaimed';
}

export interface HoldsTable {
  id: GeneratedAlways<bigint>;
  period: string;
  member_id: bigint;
  amount: bigint;
  state: 'held' | 'released' | 'expired';
  settled_period: string | null;
}

/** Fedify's key–value store (migrations/0002_fedify.ts); values are written as JSON text. */
export interface FedifyKvTable {
  key: string[];
  value: ColumnType<unknown, string, string>;
  expires_at: Date | null;
}

/** Fedify's message queue (migrations/0002_fedify.ts); messages are written as JSON text. */
export interface FedifyMessagesTable {
  id: string;
  seq: GeneratedAlways<bigint>;
  message: ColumnType<unknown, string, string>;
  ordering_key: string | null;
  deliver_after: Timestamp;
  created_at: Generated<Date>;
  attempts: Generated<number>;
  claim_token: string | null;
  claimed_until: Date | null;
}

/** Actors' key pairs (migrations/0003_federation_keys.ts); JWKs are written as JSON text. */
export interface ActorKeysTable {
  id: GeneratedAlways<bigint>;
  /** null: the instance actor. */
  member_id: bigint | null;
  kind: 'rsa' | 'ed25519';
  public_key: ColumnType<JsonWebKey, string, never>;
  private_key: ColumnType<JsonWebKey, string, never>;
  created_at: Timestamp;
}

/** Federation (migrations/0004_federation.ts). */
export interface RemoteActorsTable {
  id: GeneratedAlways<bigint>;
  iri: string;
  inbox: string;
  shared_inbox: string | null;
  handle: string | null;
  instance_origin: string;
  software: string | null;
  fetched_at: Timestamp;
}

export interface OutboxTable {
  id: GeneratedAlways<bigint>;
  activity_id: string;
  kind: 'like' | 'undo';
  flattr_id: string;
  created_at: Timestamp;
  claimed_until: Date | null;
  relayed_at: Date | null;
}

export interface IncomingFlattrsTable {
  id: string;
  activity_id: string;
  thing_id: string;
  actor_iri: string;
  instance_origin: string;
  period: string;
  state: Generated<'pending' | 'paid'>;
  received_at: Timestamp;
  withdrawn_at: Date | null;
}

export interface UnclaimedTable {
  id: GeneratedAlways<bigint>;
  period: string;
  actor_id: bigint;
  amount: bigint;
  state: 'held' | 'claimed' | 'expired';
  settled_period: string | null;
}

export interface DB {
  settings: SettingsTable;
  members: MembersTable;
  invites: InvitesTable;
  tokens: TokensTable;
  accounts: AccountsTable;
  transfers: TransfersTable;
  account_balances: AccountBalancesTable;
  budgets: BudgetsTable;
  things: ThingsTable;
  periods: PeriodsTable;
  flattrs: FlattrsTable;
  payouts: PayoutsTable;
  closes: ClosesTable;
  close_charges: CloseChargesTable;
  shares: SharesTable;
  holds: HoldsTable;
  fedify_kv: FedifyKvTable;
  fedify_messages: FedifyMessagesTable;
  actor_keys: ActorKeysTable;
  remote_actors: RemoteActorsTable;
  outbox: OutboxTable;
  incoming_flattrs: IncomingFlattrsTable;
  unclaimed: UnclaimedTable;
}
