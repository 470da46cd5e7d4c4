// graphql-http's audit of the GraphQL-over-HTTP spec against one endpoint; prints
// [{id, name, status, reason}] as JSON on stdout (status: ok, warn, notice or error).
//
//   node tests/node/audit.mjs http://127.0.0.1:8000/public/graphql
//   HUB_AUDIT_AUTHORIZATION="Bearer <key>" node tests/node/audit.mjs http://127.0.0.1:8000/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node audit.mjs URL\n');
  process.exit(2);
}
const authorization = process.env.HUB_AUDIT_AUTHORIZATION;
const fetchFn = authorization
  ? (input, init = {}) => fetch(input, { ...init, headers: { ...init.headers, authorization } })
  : fetch;
const results = await auditServer({ url, fetchFn });
const report = results.map(({ id, name, status, reason }) => ({ id, name, status, reason }));
process.stdout.write(JSON.stringify(report) + '\n');
