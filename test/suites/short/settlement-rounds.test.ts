// Settlement rounds: clearing, the settlement inbox, carrying over. One test process for these files (README.md, Tests).
await import('../../federation/settlement-clearing.test.ts');
await import('../../federation/settlement-inbox.test.ts');
await import('../../federation/settlement-carry-over.test.ts');
