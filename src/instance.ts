/**
 * Assembles one instance from a Config: database (migrated), clock, logger, services, the app
 * and the automatic close. main.ts, the CLI and the tests all start instances through here.
 */
import path from 'node:path';
import type { Federation } from '@fedify/fedify';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { createDirectory } from './activitypub/directory.ts';
import { createFarthingFederation } from './activitypub/federation.ts';
import { KyselyKvStore, WithoutActivityCache } from './activitypub/kv-store.ts';
import { KyselyMessageQueue } from './activitypub/message-queue.ts';
import { startRelay } from './activitypub/outbox.ts';
import { startPostsRelay } from './activitypub/posts.ts';
import { createSettlementTransport } from './activitypub/transport.ts';
import { buildApp } from './app.ts';
import { firstPeriod } from './close/run.ts';
import { startAutoClose } from './close/schedule.ts';
import type { Config } from './config.ts';
import type { Context } from './context.ts';
import { type Clock, clockStartingAt, systemClock } from './core/clock.ts';
import { type DatabaseHandle, openDatabase } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { startClaimsRefresh } from './links/claims.ts';
import { noticeUnclaimed } from './links/unclaimed.ts';
import { ensureAdmin } from './members/service.ts';
import { offlineDirectory, offlineTransport } from './ports.ts';
import { startSettlementRelay } from './settlement/channel.ts';
import { issueMissingStatements, issueStatements } from './settlement/issue.ts';
import { trustConfiguredPeers } from './settlement/peers.ts';
import { startSubscriptionScheduler } from './subscriptions/schedule.ts';
import { startWebhookWorker } from './webhooks/delivery.ts';

export interface Instance {
  readonly ctx: Context;
  readonly app: FastifyInstance;
  readonly database: DatabaseHandle;
  readonly federation: Federation<void>;
  /** Stops everything in order; `onStep` hears each step's name as it begins (what a hung shutdown waits for). */
  close(onStep?: (step: string) => void): Promise<void>;
}

export interface InstanceOptions {
  clock?: Clock;
  log?: Logger;
  /** An already opened database (tests); otherwise opened from the config. */
  database?: DatabaseHandle;
  /** Whether this process works the federation queue (deliveries, inbox); the CLI does not. */
  queueWorker?: boolean;
}

export function createLogger(config: Config): Logger {
  return pino({
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
  });
}

export async function openInstanceDatabase(config: Config): Promise<DatabaseHandle> {
  return openDatabase({ url: config.databaseUrl, dataDir: config.databaseUrl ? undefined : path.resolve(config.dataDir), poolSize: config.dbPoolSize });
}

export async function createInstance(config: Config, options: InstanceOptions = {}): Promise<Instance> {
  const log = options.log ?? createLogger(config);
  const clock = options.clock ?? (config.now ? clockStartingAt(config.now) : systemClock);
  const database = options.database ?? (await openInstanceDatabase(config));
  await migrateToLatest(database.db);
  const ctx: Context = { db: database.db, dbKind: database.kind, config, clock, log, directory: offlineDirectory, transport: offlineTransport, afterClose: [] };
  await firstPeriod(ctx);
  await trustConfiguredPeers(ctx);
  if (config.admin) {
    const { created } = await ensureAdmin(ctx, config.admin.username, config.admin.password);
    if (created) log.info({ username: config.admin.username }, 'admin created from FARTHING_ADMIN');
  }
  const queue = new KyselyMessageQueue(database.db, {
    // PostgreSQL wakes the queue's workers with NOTIFY; PGlite (one process) wakes them in-process.
    ...(database.url ? { listenConnection: database.url } : {}),
    onError: (error, context) => log.error({ err: error }, `federation queue: ${context}`),
  });
  const federation = createFarthingFederation(ctx, { kv: new WithoutActivityCache(new KyselyKvStore(database.db)), queue });
  ctx.federation = federation;
  ctx.directory = createDirectory(ctx, federation);
  ctx.transport = createSettlementTransport(ctx, federation);
  // The statements to peers follow every close (issuing again is idempotent), then accounts with
  // money newly waiting (or about to expire) are told (links/unclaimed.ts).
  ctx.afterClose.push(
    {
      failure: 'issuing the statements of the close failed',
      run: async (c, periods) => {
        for (const p of periods) await issueStatements(c, p);
      },
    },
    { failure: 'telling accounts of unclaimed money failed', run: (c) => noticeUnclaimed(c) },
  );
  const app = await buildApp(ctx, federation);
  const autoClose = config.autoClose ? startAutoClose(ctx) : undefined;
  // Deliveries and inbox work; listen() never rejects and returns once aborted and idle.
  const stopQueue = new AbortController();
  const queueWorker = options.queueWorker === false ? undefined : federation.startQueue(undefined, { signal: stopQueue.signal });
  // Flattrs of remote things go from the outbox table to the queue in the process that works it.
  const relay = options.queueWorker === false ? undefined : startRelay(ctx);
  // Members' published flattrs, to their followers (issue 13).
  const postsRelay = options.queueWorker === false ? undefined : startPostsRelay(ctx);
  // Signed settlement messages (statements and their answers) to peers' settlement inboxes.
  const settlementRelay = options.queueWorker === false ? undefined : startSettlementRelay(ctx);
  if (settlementRelay) {
    issueMissingStatements(ctx).catch((error: unknown) => log.error({ err: error }, 'issuing missing statements at start'));
    // Messages about unclaimed money a crash between a close and its notices left undecided.
    noticeUnclaimed(ctx).catch((error: unknown) => log.error({ err: error }, 'telling accounts of unclaimed money at start'));
  }
  // Subscribed flattrs at each period's start, and webhook deliveries (issue 6).
  const subscriptions = options.queueWorker === false ? undefined : startSubscriptionScheduler(ctx);
  const webhooks = options.queueWorker === false ? undefined : startWebhookWorker(ctx);
  // Links made or dropped after an account's flattrs, checked again before the closes (issue 3).
  const claims = options.queueWorker === false ? undefined : startClaimsRefresh(ctx);
  return {
    ctx,
    app,
    database,
    federation,
    close: async (onStep) => {
      const steps: [string, () => Promise<unknown> | undefined][] = [
        ['the automatic close', () => autoClose?.stop()],
        ['the HTTP server (requests in flight)', () => closeServer(app, config.drainMs)],
        ['the federation outbox relay', () => relay?.stop()],
        ['the published flattrs relay', () => postsRelay?.stop()],
        ['the settlement relay', () => settlementRelay?.stop()],
        ['the subscription scheduler', () => subscriptions?.stop()],
        ['the webhook worker', () => webhooks?.stop()],
        ['the claims refresh', () => claims?.stop()],
        [
          'the federation queue worker',
          () => {
            stopQueue.abort();
            return queueWorker;
          },
        ],
        ['the outbound HTTP client', () => ctx.outbound?.close()],
        ['the database', () => (options.database ? undefined : database.close())],
      ];
      for (const [name, step] of steps) {
        onStep?.(name);
        await step();
      }
    },
  };
}

/**
 * Requests in flight get `drainMs` (FARTHING_DRAIN_SECONDS) to finish once the server stops
 * listening; then their connections are cut. A client still sending a body the server already
 * refused (a settlement message past its limit is discarded as it arrives), or one that never
 * finishes its body, would otherwise hold the close open until main.ts's shutdown limit.
 */
async function closeServer(app: FastifyInstance, drainMs: number): Promise<void> {
  const cut = setTimeout(() => app.server.closeAllConnections(), drainMs);
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}
