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
  /** Space separated; null: every scope of the member's role (migrations/0005_oauth.ts). */
  scopes: ColumnType<string | null, string | null | undefined, string | null>;
  /** The OAuth app the token was issued to; null for password tokens and sessions. */
  app_id: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  /** When it was last used, written at most once a minute (migrations/0012_token_use.ts); null: never since made. */
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
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
  | 'peer'
  | 'settlement'
  /** pending:<peer>:<member>: a creator's credits from a peer, until cleared (0011). */
  | 'pending';

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
  /** exported: in a SEPA file, not yet seen leaving (migrations/0015_bank_rails.ts). */
  state: 'requested' | 'exported' | 'paid';
  requested_at: Timestamp;
  paid_at: Timestamp | null;
  reference: string | null;
  /** The pain.001 batch it was exported in, its EndToEndId and the account it was sent to (0015). */
  sepa_batch_id: Generated<string | null>;
  end_to_end_id: Generated<string | null>;
  iban: Generated<string | null>;
  holder: Generated<string | null>;
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
  /** Why the close stopped at `stage`, null when it did not fail or is done (0011). */
  error: ColumnType<string | null, string | null | undefined, string | null>;
  failed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
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
  /** 'notice': a direct message about unclaimed money (0013), from the instance actor. */
  kind: 'like' | 'undo' | 'notice';
  flattr_id: string | null;
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
  /** Once claimed: the Farthing instance paid, and its actor the shares are for (0010). */
  claimed_peer: Generated<string | null>;
  claimed_creator: Generated<string | null>;
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

/** Third-party apps (migrations/0005_oauth.ts). */
export interface OAuthAppsTable {
  id: GeneratedAlways<bigint>;
  client_id: string;
  client_secret_hash: Uint8Array;
  name: string;
  website: string | null;
  /** One exact URI per line. */
  redirect_uris: string;
  /** Space separated. */
  scopes: string;
  created_at: Timestamp;
}

export interface OAuthCodesTable {
  id: GeneratedAlways<bigint>;
  code_hash: Uint8Array;
  app_id: bigint;
  member_id: bigint;
  redirect_uri: string;
  scopes: string;
  code_challenge: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  token_id: bigint | null;
}

/** Merged into DB above (declaration merging keeps this an append). */
export interface DB {
  oauth_apps: OAuthAppsTable;
  oauth_codes: OAuthCodesTable;
}

/** Settlement (migrations/0009_settlement.ts). */
export interface PeersTable {
  origin: string;
  actor: string;
  blocked: Generated<boolean>;
  owe_limit: bigint | null;
  created_at: Timestamp;
  /** The admin (or FARTHING_PEERS) trusts its statements to credit creators here (0011). */
  trusted: Generated<boolean>;
  /** How much of its accepted, unsettled credits may be spendable at once (0011). */
  credit_line: Generated<bigint>;
}

/** A creator's credit from a peer's accepted statement line (migrations/0011_trust_money.ts). */
export interface PendingCreditsTable {
  id: GeneratedAlways<bigint>;
  statement_id: string;
  line: number;
  peer_origin: string;
  period: string;
  member_id: bigint;
  account_id: bigint;
  amount: bigint;
  state: 'pending' | 'cleared';
  cleared_by: 'settlement' | 'credit_line' | null;
  created_at: Timestamp;
  cleared_at: Timestamp | null;
}

export interface StatementsTable {
  id: string;
  direction: 'out' | 'in';
  peer_origin: string;
  sequence: number;
  period: string;
  currency: string;
  total: bigint;
  digest: string;
  document: string;
  state: 'open' | 'accepted' | 'disputed' | 'superseded';
  dispute: ColumnType<unknown, string | null, string | null> | null;
  created_at: Timestamp;
  decided_at: Date | null;
}

export interface SettlementsTable {
  id: string;
  peer_origin: string;
  period: string;
  payable: bigint | null;
  receivable: bigint | null;
  state: 'open' | 'accepted' | 'paid' | 'settled' | 'disputed';
  reference: string | null;
  paid_at: Date | null;
  settled_at: Date | null;
  /** The period of the settlement whose payment covered this one (0010). */
  paid_with: Generated<string | null>;
}

export interface SettlementMessagesInTable {
  message_id: string;
  peer_origin: string;
  type: string;
  body: string;
  received_at: Timestamp;
}

export interface SettlementDeliveriesTable {
  id: GeneratedAlways<bigint>;
  message_id: string;
  url: string;
  body: string;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  /** The lease of the relay delivering it (0017), on the database's clock. */
  claimed_until: Generated<Date | null>;
  last_status: string | null;
  delivered_at: Date | null;
  created_at: Timestamp;
}

/** Merged into DB above. */
export interface DB {
  peers: PeersTable;
  statements: StatementsTable;
  settlements: SettlementsTable;
  settlement_deliveries: SettlementDeliveriesTable;
  settlement_messages_in: SettlementMessagesInTable;
  pending_credits: PendingCreditsTable;
}

/** Subscriptions and webhooks (migrations/0006_apps.ts). */
export type SubscriptionState = 'active' | 'paused' | 'cancelled' | 'stopped' | 'finished';

export interface SubscriptionsTable {
  id: string;
  member_id: bigint;
  thing_id: string;
  months: number;
  first_period: string;
  last_period: string;
  state: SubscriptionState;
  stop_reason: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SubscriptionRunsTable {
  subscription_id: string;
  period: string;
  outcome: 'flattred' | 'stopped' | 'skipped';
  flattr_id: string | null;
  detail: string | null;
  created_at: Timestamp;
}

export interface SubscriptionNoticesTable {
  id: GeneratedAlways<bigint>;
  subscription_id: string;
  member_id: bigint;
  period: string;
  code: string;
  message: string;
  created_at: Timestamp;
}

export interface WebhooksTable {
  id: string;
  member_id: bigint;
  url: string;
  /** Space separated. */
  events: string;
  secret: string;
  created_at: Timestamp;
  deleted_at: Date | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event: string;
  event_key: string;
  body: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  claimed_until: Date | null;
  last_status: string | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Timestamp;
}

/** Merged into DB above. */
export interface DB {
  subscriptions: SubscriptionsTable;
  subscription_runs: SubscriptionRunsTable;
  subscription_notices: SubscriptionNoticesTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

/** Linked fediverse accounts (migrations/0008_links.ts). */
export interface MemberLinksTable {
  id: GeneratedAlways<bigint>;
  member_id: bigint;
  actor_iri: string;
  handle: string | null;
  state: 'pending' | 'verified';
  created_at: Timestamp;
  verified_at: Date | null;
}

/** Merged into RemoteActorsTable above: the Farthing actor claiming this account, if any. */
export interface RemoteActorsTable {
  claimed_by: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Merged into DB above. */
export interface DB {
  member_links: MemberLinksTable;
}

/** Ownership proven by content, local claims and unclaimed notices (migrations/0013_ownership.ts). */
export interface ThingsTable {
  /** The thing's content names its owner. */
  verified: Generated<boolean>;
  /** For a thing of a fediverse account a member here claims: that account (its Likes go there). */
  author_actor_id: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
}

export interface RemoteActorsTable {
  /** The member here who claims this account (both directions proven), if any. */
  claimed_member_id: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
}

export interface UnclaimedTable {
  /** Once claimed by a member here: that member (paid from `unclaimed` to their wallet). */
  claimed_member_id: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
}

export interface UnclaimedNoticesTable {
  id: GeneratedAlways<bigint>;
  actor_id: bigint;
  kind: 'first' | 'expiring';
  since: string;
  month: string;
  amount: bigint;
  expires: string;
  content: string;
  created_at: Timestamp;
}

export interface OutboxTable {
  notice_id: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
}

export interface DB {
  unclaimed_notices: UnclaimedNoticesTable;
}

/** Members as fediverse citizens (migrations/0014_citizens.ts), merged into MembersTable above. */
export interface MembersTable {
  display_name: ColumnType<string | null, string | null | undefined, string | null>;
  bio: ColumnType<string | null, string | null | undefined, string | null>;
  publish_flattrs: Generated<boolean>;
}

export interface AvatarsTable {
  member_id: bigint;
  image: Uint8Array;
  media_type: 'image/webp' | 'image/png';
  digest: string;
  updated_at: Timestamp;
}

export interface FollowersTable {
  id: GeneratedAlways<bigint>;
  member_id: bigint;
  actor_iri: string;
  inbox: string;
  shared_inbox: string | null;
  follow_id: string | null;
  created_at: Timestamp;
}

export interface PostsTable {
  id: string;
  member_id: bigint;
  flattr_id: string;
  created_at: Timestamp;
  claimed_until: Date | null;
  relayed_at: Date | null;
  deleted_at: Date | null;
  delete_relayed_at: Date | null;
}

/** Merged into DB above. */
export interface DB {
  avatars: AvatarsTable;
  followers: FollowersTable;
  posts: PostsTable;
}

/** Bank rails (migrations/0015_bank_rails.ts). */
export interface TransferReferencesTable {
  member_id: bigint;
  reference: string;
  created_at: Timestamp;
}

export interface PayoutAccountsTable {
  member_id: bigint;
  iban: string;
  holder: string;
  updated_at: Timestamp;
}

export interface SepaBatchesTable {
  id: string;
  created_at: Timestamp;
  payouts: number;
  total: bigint;
  document: string;
}

export interface BankImportsTable {
  id: GeneratedAlways<bigint>;
  message_id: string;
  version: string;
  imported_at: Timestamp;
  matched: number;
  unmatched: number;
  duplicates: number;
}

export type BankEntryState = 'deposited' | 'paid_out' | 'unmatched' | 'assigned' | 'ignored';

export interface BankEntriesTable {
  id: GeneratedAlways<bigint>;
  entry_key: string;
  entry_ref: string | null;
  import_id: bigint;
  direction: 'credit' | 'debit';
  amount: bigint;
  booked_on: string | null;
  counterparty: string | null;
  remittance: string | null;
  state: BankEntryState;
  reason: string | null;
  member_id: bigint | null;
  /** Space separated: the payouts a debit entry paid. */
  payout_ids: string | null;
  decided_at: Date | null;
}

/** Card top-ups through Stripe (migrations/0016_card_topups.ts). */
export type CardTopupState = 'creating' | 'open' | 'credited' | 'review' | 'failed';

export interface CardTopupsTable {
  id: string;
  member_id: bigint;
  amount: bigint;
  currency: string;
  session_id: string | null;
  checkout_url: string | null;
  state: CardTopupState;
  fee_bearer: 'member' | 'instance';
  fee: bigint | null;
  credited: bigint | null;
  payment_intent: string | null;
  charge_id: string | null;
  refunded: Generated<bigint>;
  problem: string | null;
  created_at: Timestamp;
  completed_at: Date | null;
}

export interface CardReversalsTable {
  id: GeneratedAlways<bigint>;
  topup_id: string;
  kind: 'refund' | 'dispute';
  stripe_ref: string;
  amount: bigint;
  booked: bigint;
  shortfall: bigint;
  created_at: Timestamp;
}

export interface StripeEventsTable {
  id: string;
  type: string;
  outcome: string;
  received_at: Timestamp;
}

/** Merged into DB above. */
export interface DB {
  transfer_references: TransferReferencesTable;
  payout_accounts: PayoutAccountsTable;
  sepa_batches: SepaBatchesTable;
  bank_imports: BankImportsTable;
  bank_entries: BankEntriesTable;
  card_topups: CardTopupsTable;
  card_reversals: CardReversalsTable;
  stripe_events: StripeEventsTable;
}
