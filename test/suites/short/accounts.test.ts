// OAuth, follows and profiles. One test process for these files (README.md, Tests).
await import('../../oauth/flow.test.ts');
await import('../../oauth/scopes.test.ts');
await import('../../citizens/follows.test.ts');
await import('../../citizens/profile.test.ts');
