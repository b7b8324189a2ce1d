/**
 * Fedify's storage on our own database: its key–value store and its message queue
 * (src/federation/kv-store.ts, src/federation/message-queue.ts).
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- Fedify's caches and idempotency records. A key is Fedify's array of strings as is, so a
    -- prefix search compares whole elements (key[1:n] = prefix) and ['a'] never matches ['ab'].
    CREATE TABLE fedify_kv (
      key text[] PRIMARY KEY CHECK (cardinality(key) > 0),
      value jsonb NOT NULL,
      -- NULL: never expires. Expired rows are invisible and deleted lazily.
      expires_at timestamptz
    )
  `,
  `
    CREATE INDEX fedify_kv_expires_at ON fedify_kv (expires_at) WHERE expires_at IS NOT NULL
  `,
  `
    -- Fedify's task queue. A row lives from enqueue until its handler has run; a worker that
    -- takes it holds a lease (claim_token, claimed_until) that it renews while the handler runs,
    -- so a message whose worker died becomes available again once the lease runs out.
    CREATE TABLE fedify_messages (
      id uuid PRIMARY KEY,
      -- Enqueue order: the order of messages sharing an ordering key (timestamps can tie).
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      message jsonb NOT NULL,
      ordering_key text,
      deliver_after timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      -- How many times a worker took it; above 1 means a lease ran out (a worker died or stalled).
      attempts integer NOT NULL DEFAULT 0,
      claim_token uuid,
      claimed_until timestamptz,
      CHECK ((claim_token IS NULL) = (claimed_until IS NULL))
    )
  `,
  `
    CREATE INDEX fedify_messages_due ON fedify_messages (deliver_after, seq)
  `,
  `
    -- Finds whether an earlier message with the same ordering key is still there.
    CREATE INDEX fedify_messages_ordering ON fedify_messages (ordering_key, seq) WHERE ordering_key IS NOT NULL
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE fedify_messages, fedify_kv`.execute(db);
}
