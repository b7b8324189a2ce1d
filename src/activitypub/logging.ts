/**
 * Fedify logs through LogTape; this routes those records into our pino logger, so an operator
 * reads one log with one format and one level setting (LOG_LEVEL).
 *
 * LogTape is configured once per process (configuring it again throws). Records go to the logger
 * of the instance that was created last: in production a process runs one instance; tests that
 * run several in one process get Fedify's lines in the newest one's log.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { inspect } from 'node:util';
import { configureSync, type LogLevel, type LogRecord } from '@logtape/logtape';
import type { Logger } from 'pino';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
};

let target: Logger | undefined;

export function routeFedifyLogs(log: Logger): void {
  const configured = target !== undefined;
  target = log;
  if (configured) return;
  configureSync({
    sinks: { pino: (record) => write(record) },
    loggers: [
      // pino's level filters; LogTape only drops trace, which Fedify hardly uses.
      { category: 'fedify', sinks: ['pino'], lowestLevel: 'debug' },
      // fastify logs every request already; Fedify's own line per request adds only its errors.
      { category: ['fedify', 'federation', 'http'], lowestLevel: 'error' },
      { category: ['logtape', 'meta'], sinks: ['pino'], lowestLevel: 'warning' },
    ],
    // Fedify tags its records with the request and queue message they belong to.
    contextLocalStorage: new AsyncLocalStorage(),
  });
}

function write(record: LogRecord): void {
  const level = PINO_LEVEL[record.level];
  if (!target?.isLevelEnabled(level)) return;
  target[level]({ category: record.category.join('.'), ...fields(record.properties) }, render(record.message));
}

/** LogTape's message alternates text and values: ["Actor ", identifier, " not found."]. */
function render(message: readonly unknown[]): string {
  return message.map((part, i) => (i % 2 === 0 ? String(part) : show(part))).join('');
}

function show(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof URL) return value.href;
  return inspect(value, { depth: 2, breakLength: Infinity });
}

/** Only plain values become fields; objects (activities, requests) are in the message already. */
function fields(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (value instanceof Error)
      out.err = value; // pino's serializer keeps the stack
    else if (value instanceof URL) out[key] = value.href;
    else if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) out[key] = value;
  }
  return out;
}
