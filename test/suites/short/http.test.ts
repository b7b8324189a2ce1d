// HTTP behaviour of the server: proxies, CORS and rate limits, headers, CSRF, the seeds example. One test process for these files (README.md, Tests).
await import('../../integration/trust-proxy.test.ts');
await import('../../integration/cors-ratelimit.test.ts');
await import('../../integration/seeds-example.test.ts');
await import('../../web/security-headers.test.ts');
await import('../../web/csrf.test.ts');
