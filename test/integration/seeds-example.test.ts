/**
 * The example of the 2010 articles: "If you have 5 Euros to spend and click on ten different
 * buttons, each site owner will thus receive 45 cents" (and the instance keeps 10%).
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance, thing } from '../helpers/instance.ts';

await eachDatabase(t, async (t, kind) => {
  const inst = await startInstance(t, kind);
  const { api, adminToken } = inst;
  const reader = await inst.member('reader', { deposit: '20.00', budget: '5.00' });
  const creators: string[] = [];
  for (let i = 0; i < 10; i++) {
    const token = await inst.member(`creator${i}`, { deposit: '2.00' });
    creators.push(token);
    const id = await thing(inst, token, `https://blog${i}.example/post`, `Post ${i}`);
    const flattr = await api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: id } });
    t.equal(flattr.status, 201, `flattr ${i}`);
    t.equal(flattr.body.period, '2026-11');
  }
  inst.clock.set('2026-12-01T00:05:00Z');
  const close = await api('POST', '/api/v1/admin/periods/2026-11/close', { token: adminToken });
  t.equal(close.status, 200, close.text);
  t.equal(close.body.summary.flattrs, 10);
  t.equal(close.body.summary.fees, '0.50', 'the instance receives 0.50');

  for (const token of creators) {
    const earnings = await api('GET', '/api/v1/me/earnings?period=2026-11', { token });
    t.equal(earnings.body.total, '0.45', 'each creator receives 0.45');
    t.equal(earnings.body.items[0].flattrs, 1);
  }
  const me = await api('GET', '/api/v1/me', { token: reader });
  t.equal(me.body.balance, '15.00', 'the reader paid exactly the budget');
  const creatorMe = await api('GET', '/api/v1/me', { token: creators[0] as string });
  // 2.00 deposited - 2.00 idle budget to charity + 0.45 earned
  t.equal(creatorMe.body.balance, '0.45');
});
