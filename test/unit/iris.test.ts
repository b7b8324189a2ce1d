import t from 'tap';
import * as iris from '../../src/core/iris.ts';
import { type Named, parseIri, parseIriOf, parsePath } from '../../src/core/iris.ts';

const O = 'https://a.example';
const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

t.test('every minted IRI parses back to what it names', async (t) => {
  const cases: [string, Named][] = [
    [iris.memberIri(O, 'alice_1'), { kind: 'member', username: 'alice_1' }],
    [iris.memberInboxIri(O, 'alice'), { kind: 'memberInbox', username: 'alice' }],
    [iris.followersIri(O, 'alice'), { kind: 'followers', username: 'alice' }],
    [iris.followingIri(O, 'alice'), { kind: 'following', username: 'alice' }],
    [iris.outboxIri(O, 'alice'), { kind: 'outbox', username: 'alice' }],
    [iris.avatarIri(O, 'alice'), { kind: 'avatar', username: 'alice', version: null }],
    [iris.avatarIri(O, 'alice', 'Ab_-09xyzXYZ1234'), { kind: 'avatar', username: 'alice', version: 'Ab_-09xyzXYZ1234' }],
    [iris.instanceActorIri(O), { kind: 'instance' }],
    [iris.sharedInboxIri(O), { kind: 'sharedInbox' }],
    [iris.thingIri(O, ID), { kind: 'thing', id: ID }],
    [iris.flattrIri(O, ID), { kind: 'flattr', id: ID }],
    [iris.undoIri(O, ID), { kind: 'undo', id: ID }],
    [iris.postIri(O, ID), { kind: 'post', id: ID }],
    [iris.periodIri(O, '2026-12'), { kind: 'period', period: '2026-12' }],
    [iris.statementIri(O, ID), { kind: 'statement', id: ID }],
    [iris.settlementMessageIri(O, ID), { kind: 'settlementMessage', id: ID }],
    [iris.settlementInboxIri(O), { kind: 'settlementInbox' }],
    [iris.noticeIri(O, 42n), { kind: 'notice', id: '42' }],
    [iris.unclaimedIri(O, 'https://m.example/users/bob?x=1#y'), { kind: 'unclaimed', account: 'https://m.example/users/bob?x=1#y' }],
  ];
  for (const [iri, named] of cases) {
    t.same(parseIri(O, iri), named, iri);
    t.same(parseIri(O, new URL(iri)), named, `${iri} as a URL`);
    t.same(parsePath(iri.slice(O.length)), named, `${iri} as a path`);
    t.same(parseIriOf(O, iri, named.kind), named, `${iri} of its kind`);
    t.equal(parseIriOf(O, iri, named.kind === 'thing' ? 'member' : 'thing'), null, `${iri} of another kind`);
  }
  t.equal(iris.likeOfUndo(O, iris.undoIri(O, ID)), iris.flattrIri(O, ID), 'an Undo names its Like');
  t.equal(iris.likeOfUndo(O, iris.flattrIri(O, ID)), iris.flattrIri(O, ID));
  t.equal(iris.likeOfUndo(O, `https://b.example/flattrs/${ID}#undo`), `https://b.example/flattrs/${ID}#undo`, 'not ours');
  t.equal(iris.memberIri(O, 'alice'), 'https://a.example/users/alice');
  t.equal(iris.instanceActorIri(O), 'https://a.example/actor');
  t.equal(iris.thingPath(ID, 'badge.svg'), `/things/${ID}/badge.svg`);
  t.equal(iris.profilePath('alice'), '/users/alice');
  t.equal(iris.unclaimedPath('https://m.example/@bob'), '/unclaimed/https%3A%2F%2Fm.example%2F%40bob');
});

t.test('ids that are UUIDs must be UUIDs, answered lower case', async (t) => {
  t.same(parseIri(O, `${O}/things/${ID.toUpperCase()}`), { kind: 'thing', id: ID });
  for (const bad of [
    '0f8fad5b-d9cb-469f-a165-70867728950',
    '0f8fad5b-d9cb-469f-a165-70867728950e0',
    '0f8fad5bd9cb-469f-a165-70867728950e-',
    'zf8fad5b-d9cb-469f-a165-70867728950e',
    '1',
    '',
  ]) {
    for (const path of ['things', 'flattrs', 'posts', 'settlement/statements', 'settlement/messages']) {
      t.equal(parseIri(O, `${O}/${path}/${bad}`), null, `${path}/${bad}`);
    }
  }
  for (const bad of ['2026-13', '2026-00', '26-01', '2026-1', '2026-01-01']) t.equal(parseIri(O, `${O}/periods/${bad}`), null, bad);
  for (const bad of ['', 'a-b', 'a.b', 'x'.repeat(31), 'é', '~instance']) t.equal(parseIri(O, `${O}/users/${bad}`), null, `users/${bad}`);
  for (const bad of ['0', '01', 'x', '-1']) t.equal(parseIri(O, `${O}/notices/${bad}`), null, `notices/${bad}`);
});

t.test('anything else answers null', async (t) => {
  const bad = [
    // foreign origins, look-alikes
    `https://b.example/users/alice`,
    `http://a.example/users/alice`,
    `https://a.example:8443/users/alice`,
    `https://a.example.evil/users/alice`,
    `https://a.exampleusers/alice`,
    `https://user@a.example/users/alice`,
    `https://a.example`,
    `https://a.example/`,
    // other paths of ours
    `${O}/users`,
    `${O}/users/`,
    `${O}/users/alice/avatar/x`,
    `${O}/users/alice/likes`,
    `${O}/things`,
    `${O}/things/${ID}/badge.svg`,
    `${O}/api/v1/things/${ID}`,
    `${O}/actor/inbox`,
    `${O}/settlement/inbox/x`,
    `${O}/settlement/other/${ID}`,
    // trailing junk
    `${O}/users/alice/`,
    `${O}/users/alice.json`,
    `${O}/things/${ID}/`,
    `${O}/things/${ID}x`,
    `${O}/actor/`,
    `${O}/actors`,
    `${O}/periods/2026-12/`,
    `${O}/flattrs/${ID}#undo2`,
    `${O}/flattrs/${ID}#`,
    // query and fragment
    `${O}/users/alice?x=1`,
    `${O}/users/alice#main-key`,
    `${O}/actor#main-key`,
    `${O}/things/${ID}?`,
    `${O}/things/${ID}#x`,
    `${O}/posts/${ID}#undo`,
    `${O}/users/alice/avatar?v=`,
    `${O}/users/alice/avatar?v=a&w=b`,
    `${O}/users/alice/avatar#v=a`,
    // encoded tricks, dot segments, double slashes
    `${O}/users/al%69ce`,
    `${O}/users%2Falice`,
    `${O}/things%2F${ID}`,
    `${O}/users/alice%2Finbox`,
    `${O}/things/../users/alice`,
    `${O}/users/./alice`,
    `${O}/users/bob/../alice`,
    `${O}/users/alice/..`,
    `${O}//users/alice`,
    `${O}/users//alice`,
    `${O}/settlement//inbox`,
    `${O}/%75sers/alice`,
    `${O}/unclaimed/https%3a%2f%2fm.example%2f%40bob`,
    `${O}/unclaimed/https://m.example/@bob`,
    `${O}/unclaimed/%E0%A4%A`,
    `${O}/unclaimed/`,
    `${O}/USERS/alice`,
    ` ${O}/users/alice`,
    `${O}/users/alice `,
    `${O}/users/alice\n`,
  ];
  for (const iri of bad) t.equal(parseIri(O, iri), null, JSON.stringify(iri));
  t.equal(parsePath('users/alice'), null, 'a path starts with /');
  t.equal(parseIri(O, 'not a url'), null);
});
