/**
 * `npm start`: validates the configuration, opens and migrates the database, serves one
 * instance and shuts down gracefully on SIGINT/SIGTERM, within FARTHING_SHUTDOWN_SECONDS whatever
 * happens: a step of the shutdown that hangs is named in the log and the process exits 1; and
 * since a main thread blocked in native code (a futex in the embedded database, say) runs no
 * timer, a watchdog thread (src/shutdown-watchdog.ts) ends the process a little later if the
 * main thread could not.
 */
import { type Config, ConfigError, loadConfig } from './config.ts';
import { DataDirLockedError } from './db/data-dir-lock.ts';
import { createInstance } from './instance.ts';
import { startShutdownWatchdog } from './shutdown-watchdog.ts';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const instance = await createInstance(config);
  const { app, ctx } = instance;
  await app.listen({ port: config.port, host: config.host });
  ctx.log.info({ origin: config.origin, database: instance.database.kind, pid: process.pid }, 'Farthing is serving');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.log.info({ signal }, 'shutting down');
    let step = 'starting';
    const limitMs = config.shutdownLimitMs;
    const watchdog = startShutdownWatchdog(limitMs + 2_000);
    const force = setTimeout(() => {
      ctx.log.error({ waiting_for: step, limit_ms: limitMs }, `shutdown did not finish in ${limitMs / 1000} s; it was waiting for ${step}; exiting anyway`);
      process.exit(1);
    }, limitMs);
    force.unref();
    try {
      await instance.close((name) => {
        step = name;
        watchdog.step(name);
        ctx.log.debug({ step: name }, 'shutdown step');
      });
    } catch (error) {
      ctx.log.error({ err: error, step }, 'shutdown step failed');
      process.exit(1);
    }
    ctx.log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error) => {
  if (error instanceof DataDirLockedError) {
    console.error(error.message);
    process.exit(3);
  }
  console.error(error);
  process.exit(1);
});
