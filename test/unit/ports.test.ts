import t from 'tap';
import { AppError } from '../../src/core/errors.ts';
import { offlineDirectory, offlineTransport } from '../../src/ports.ts';

t.test('without a network the ports refuse, saying so (503 unavailable), never answer nothing', async (t) => {
  const calls: [string, () => Promise<unknown>][] = [
    ['directory.lookup', () => offlineDirectory.lookup('https://b.example/users/bob')],
    ['directory.handle', () => offlineDirectory.handle('bob', 'b.example')],
    ['directory.author', () => offlineDirectory.author({ kind: 'object', iri: 'https://b.example/notes/1', url: null, title: null })],
    [
      'directory.pointers',
      () =>
        offlineDirectory.pointers({
          kind: 'actor',
          iri: 'https://b.example/users/bob',
          inbox: null,
          sharedInbox: null,
          preferredUsername: null,
          aliases: [],
          publicKeyIds: [],
        }),
    ],
    ['directory.page', () => offlineDirectory.page('https://b.example/')],
    ['directory.software', () => offlineDirectory.software('https://b.example/')],
    ['transport.sender', () => offlineTransport.sender()],
    ['transport.verifySender', () => offlineTransport.verifySender(new Request('https://a.example/settlement/inbox', { method: 'POST' }))],
    ['transport.senderKey', () => offlineTransport.senderKey(new URL('https://b.example/actor#main-key'), 'https://b.example/actor')],
  ];
  for (const [name, call] of calls) {
    const error = await call().then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(error instanceof AppError, `${name} refuses with an AppError`);
    t.equal((error as AppError).code, 'unavailable', `${name}: unavailable`);
    t.equal((error as AppError).status, 503);
    t.match((error as AppError).message, /no network/, `${name} says why`);
  }
});
