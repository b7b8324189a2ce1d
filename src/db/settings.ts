/** Instance-wide settings kept in the database (the charity account, the first period, ...). */
import { sql } from 'kysely';
import type { Executor } from '../ledger/accounts.ts';

/** csrf_hmac_key: the key of the pages' CSRF tokens (src/web/security.ts). */
export type SettingKey = 'charity_member_id' | 'first_period' | 'csrf_hmac_key';

export async function getSetting<T>(db: Executor, key: SettingKey): Promise<T | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value as T | undefined;
}

export async function setSetting(db: Executor, key: SettingKey, value: unknown): Promise<void> {
  const json = JSON.stringify(value);
  await db
    .insertInto('settings')
    .values({ key, value: json })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: sql`excluded.value` }))
    .execute();
}

/** Sets the value only if none is set yet; answers the value in force. */
export async function initSetting<T>(db: Executor, key: SettingKey, value: T): Promise<T> {
  await db
    .insertInto('settings')
    .values({ key, value: JSON.stringify(value) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  return (await getSetting<T>(db, key)) as T;
}
