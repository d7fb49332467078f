// GraphQL over SSE with the graphql-sse client, single-connection mode (every operation on one stream):
// npx tsx examples/protocols/sse.ts
import { print } from 'graphql';
import { createClient } from 'graphql-sse';
import { ConsensusRoundsDocument } from '../generated/graphql.ts';

const server = process.env['SERVER'] ?? 'localhost:9003';
const client = createClient({ url: `http://${server}/graphql/stream`, singleConnection: true });

let results = 0;
for await (const { data } of client.iterate({ query: print(ConsensusRoundsDocument) })) {
  console.log(JSON.stringify(data));
  if (++results === 5) break;
}
client.dispose();
