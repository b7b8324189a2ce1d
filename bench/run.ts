/**
 * `npm run bench -- <name>`: runs one benchmark (or all). Each prints its figures and the ratio
 * to a baseline measured in the same run. Benchmarks never fail a build; they report.
 */
const BENCHES: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  close: () => import('./close.ts').then((m) => ({ run: m.benchClose })),
  clicks: () => import('./clicks.ts').then((m) => ({ run: m.benchClicks })),
  statement: () => import('./statement.ts').then((m) => ({ run: m.benchStatement })),
  inbox: () => import('./inbox.ts').then((m) => ({ run: m.benchInbox })),
  'settlement-inbox': () => import('./settlement-inbox.ts').then((m) => ({ run: m.benchSettlementInbox })),
};

const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const selected = names.length ? names : Object.keys(BENCHES);
for (const name of selected) {
  const load = BENCHES[name];
  if (!load) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== ${name} ==`);
  await (await load()).run();
}
