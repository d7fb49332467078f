/**
 * Apollo Client 4 over the resumable client kit: `npx tsx examples/client/apollo.ts`.
 */
import { ApolloClient, InMemoryCache } from '@apollo/client';
import WebSocket from 'ws';
import { createResumableClient } from 'aurigraph-realtime/client';
import { ResumableLink, type ResumableLinkContext } from 'aurigraph-realtime/client/apollo';
import { FailedTransactionsDocument, LiveMetricsDocument } from '../generated/graphql.ts';

const kit = createResumableClient({ url: process.env['URL'] ?? 'ws://localhost:9003/graphql', webSocketImpl: WebSocket });
const client = new ApolloClient({ link: new ResumableLink(kit), cache: new InMemoryCache() });

client.subscribe({ query: LiveMetricsDocument }).subscribe(({ data }) => {
  if (data) console.log(`tps ${data.metrics.tps.toFixed(1)}  errors ${(data.metrics.errorRate * 100).toFixed(2)} %`);
});

const context: ResumableLinkContext = { resumable: { onGap: ({ error }) => console.warn(`failed-transactions gap: ${error.message}`) } };
client
  // The last 20 failed transactions first; on every resume the kit swaps `replay` for `after: <cursor>`.
  .subscribe({ query: FailedTransactionsDocument, variables: { replay: 20 }, context })
  .subscribe(({ data }) => {
    if (data) console.log(`FAILED #${data.transactions.seq} ${data.transactions.txHash}`);
  });
