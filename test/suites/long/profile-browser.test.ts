// One test process for this file (README.md, Tests).
await import('../../citizens/profile-browser.test.ts');
