// graphql-ws (subprotocol graphql-transport-ws): npx tsx examples/protocols/graphql-ws.ts
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { LiveMetricsDocument } from '../generated/graphql.ts';

const server = process.env['SERVER'] ?? 'localhost:9003';
const client = createClient({ url: `ws://${server}/graphql`, webSocketImpl: WebSocket });

let results = 0;
for await (const { data } of client.iterate({ query: print(LiveMetricsDocument) })) {
  console.log(JSON.stringify(data));
  if (++results === 5) break;
}
await client.dispose();
