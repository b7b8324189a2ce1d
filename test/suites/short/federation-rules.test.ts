// The inbox rules and ownership against small fediverse servers. One test process for these files (README.md, Tests).
await import('../../federation/inbox-listeners.test.ts');
await import('../../federation/mastodon.test.ts');
await import('../../federation/ownership.test.ts');
await import('../../federation/local-claim.test.ts');
await import('../../federation/unclaimed-notices.test.ts');
