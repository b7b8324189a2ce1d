/**
 * One process per embedded database. PGlite is PostgreSQL in one process with no shared memory
 * between processes: two processes on one FARTHING_DATA_DIR (two servers, or a server and the
 * CLI) each believe they own the files, and what one of them writes is lost (issue 14). So the
 * directory is locked with a file, `farthing.lock`, that says which process holds it (pid, its
 * command, since when); a second process refuses to start and names the holder. A lock whose
 * process no longer runs (killed, crashed, the machine rebooted) is taken over.
 *
 * Written by hand (about 80 lines) rather than with proper-lockfile and the like: those lock by
 * a directory's mtime, refreshed on a timer, which a blocked event loop lets go stale while the
 * process is alive, and they do not name the holder. The lock is made complete in a temporary
 * file and then link()ed into place: link() fails if the lock exists (like O_EXCL), and a reader
 * never sees a half-written lock. Limits: a pid reused by an unrelated process after a crash
 * makes the lock look held (the message names that process, so it can be checked and the file
 * removed); two processes taking over the same stale lock at the same instant are told apart by
 * reading the lock back.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'farthing.lock';

interface LockRecord {
  pid: number;
  command: string;
  since: string;
}

export class DataDirLockedError extends Error {
  readonly holder: LockRecord;
  constructor(dataDir: string, holder: LockRecord) {
    const who = holder.pid === process.pid ? 'this process' : `process ${holder.pid} (${holder.command}, since ${holder.since})`;
    super(
      `The embedded database in ${dataDir} is in use by ${who}. One process at a time may open it: stop that process first ` +
        '(or use DATABASE_URL, PostgreSQL, for several processes).',
    );
    this.name = 'DataDirLockedError';
    this.holder = holder;
  }
}

export interface DataDirLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockRecord | null {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockRecord>;
    return Number.isSafeInteger(record.pid) && (record.pid as number) > 0
      ? { pid: record.pid as number, command: String(record.command ?? '?'), since: String(record.since ?? '?') }
      : null;
  } catch {
    return null;
  }
}

/** Takes the directory's lock, or throws DataDirLockedError naming the live process that holds it. */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(dataDir, LOCK_FILE);
  const mine: LockRecord = {
    pid: process.pid,
    command: [path.basename(process.execPath), ...process.argv.slice(1).map((a, i) => (i === 0 ? path.relative(process.cwd(), a) || a : a))].join(' '),
    since: new Date().toISOString(),
  };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(mine)}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temporary, file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = readLock(file);
        if (holder && alive(holder.pid)) throw new DataDirLockedError(dataDir, holder);
        // Left by a process that is gone (or unreadable): taken over, if still the same file.
        const again = readFileSync(file, 'utf8');
        if (holder === null || again.includes(`"pid":${holder.pid},`)) unlinkSync(file);
        continue;
      }
      const written = readLock(file);
      if (written?.pid !== process.pid || written.since !== mine.since) continue;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        if (readLock(file)?.pid === process.pid) unlinkSync(file);
      };
      process.on('exit', release);
      return { release };
    }
    throw new Error(`could not take the lock ${file}: another process keeps taking it`);
  } finally {
    unlinkSync(temporary);
  }
}
