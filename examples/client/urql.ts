/**
 * urql over the resumable client kit: `npx tsx examples/client/urql.ts`.
 */
import { Client, subscriptionExchange } from '@urql/core';
import WebSocket from 'ws';
import { createResumableClient } from 'aurigraph-realtime/client';
import { resumableForwardSubscription } from 'aurigraph-realtime/client/urql';
import { LiveTransactionsDocument } from '../generated/graphql.ts';

const kit = createResumableClient({ url: process.env['URL'] ?? 'ws://localhost:9003/graphql', webSocketImpl: WebSocket });
const client = new Client({
  url: 'http://localhost:9003/graphql',
  exchanges: [
    subscriptionExchange({
      forwardSubscription: resumableForwardSubscription(kit, {
        onGap: ({ error }) => console.warn(`gap: ${error.message}`),
      }),
    }),
  ],
});

client.subscription(LiveTransactionsDocument, {}).subscribe(({ data, error }) => {
  if (error) console.error(error.message);
  if (data) console.log(data.transactions.seq, data.transactions.status);
});
