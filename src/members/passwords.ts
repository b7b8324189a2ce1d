/** Password hashing with argon2id (argon2's recommended parameters). */
import argon2 from 'argon2';

/** argon2's recommended cost; `fast` is the minimum cost, for test suites only (see config). */
export function hashPassword(password: string, fast = false): Promise<string> {
  return argon2.hash(password, fast ? { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 } : { type: argon2.argon2id });
}

// Verifying against this when the username is unknown keeps sign-in time the same either way:
// made at the cost real hashes are made at (the minimum one only where `fast` makes those too).
const dummyHashes = new Map<boolean, Promise<string>>();

export async function verifyPassword(hash: string | undefined, password: string, fast = false): Promise<boolean> {
  if (hash === undefined) {
    let dummy = dummyHashes.get(fast);
    if (!dummy) dummyHashes.set(fast, (dummy = hashPassword('not a real password, only here to spend time', fast)));
    await argon2.verify(await dummy, password);
    return false;
  }
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}
