// Subscribes with the graphql-ws client (what Apollo's GraphQLWsLink uses) and prints, one
// JSON line each: {"connected": true} once acknowledged, then every result, until killed.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, query] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  retryAttempts: 0,
  connectionParams: { authorization: `Bearer ${token}` },
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});
client.subscribe(
  { query },
  {
    next: (result) => console.log(JSON.stringify({ next: result })),
    error: (error) => {
      console.log(JSON.stringify({ error: String(error?.reason ?? error?.message ?? error) }));
      process.exit(1);
    },
    complete: () => console.log(JSON.stringify({ complete: true })),
  },
);
