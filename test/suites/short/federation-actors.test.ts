// Actors, linked accounts and forged inbox activities. One test process for these files (README.md, Tests).
await import('../../federation/actors.test.ts');
await import('../../federation/linking.test.ts');
await import('../../federation/inbox-forgery.test.ts');
