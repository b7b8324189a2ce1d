/**
 * Run by test/run.sh before tap starts the suites: loads the modules most test processes load,
 * then writes Node's compile cache (NODE_COMPILE_CACHE). Node writes a process's compiled code to
 * the cache only when the process exits, so on a first run (a fresh clone, or after an install)
 * every suite that started before another had finished compiled the same modules again: about
 * 70 s of CPU. With the cache filled, this takes about a second.
 */
import { flushCompileCache } from 'node:module';

await Promise.all([
  import('tap'),
  import('../../src/cli.ts'),
  import('../../src/instance.ts'),
  import('@electric-sql/pglite'),
  import('@fedify/testing'),
  import('@fedify/webfinger'),
  import('@seriousme/openapi-schema-validator'),
  import('fast-check'),
  import('pg'),
  import('playwright-core'),
  import('sharp'),
  import('stripe'),
  import('@typescript/typescript6'),
  import('./databases.ts'),
  import('./instance.ts'),
  import('./mastodon.ts'),
  import('./network.ts'),
  import('./web.ts'),
]);
flushCompileCache();
