// The graphql-http server audit against the URL given; prints one JSON line with the counts
// and every result that is not "ok".
import { auditServer } from 'graphql-http';

const results = await auditServer({ url: process.argv[2] });
const count = (status) => results.filter((r) => r.status === status).length;
const findings = results
  .filter((r) => r.status !== 'ok' && r.status !== 'notice')
  .map((r) => `${r.status} ${r.id} ${r.name}: ${r.reason}`);
console.log(JSON.stringify({ ok: count('ok'), warn: count('warn'), error: count('error'), findings }));
