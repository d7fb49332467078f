// urql over graphql-ws (subscriptionExchange): npx tsx examples/protocols/graphql-ws-urql.ts
import { Client, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { LiveTransactionsDocument } from '../generated/graphql.ts';

const server = process.env['SERVER'] ?? 'localhost:9003';
const ws = createClient({ url: `ws://${server}/graphql`, webSocketImpl: WebSocket });
const client = new Client({
  url: `http://${server}/graphql`,
  exchanges: [
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
      }),
    }),
  ],
});

let results = 0;
const subscription = client.subscription(LiveTransactionsDocument, {}).subscribe(({ data }) => {
  console.log(JSON.stringify(data));
  if (++results < 5) return;
  subscription.unsubscribe();
  void ws.dispose();
});
