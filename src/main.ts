/**
 * `npm start`: validates the configuration, opens and migrates the database, serves one
 * instance and shuts down gracefully on SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config.ts';
import { createInstance } from './instance.ts';

async function main(): Promise<void> {
  let config;
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
  ctx.log.info({ origin: config.origin, database: instance.database.kind }, 'Farthing is serving');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await instance.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
