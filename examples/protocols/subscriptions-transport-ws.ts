// Apollo Client 3's WebSocketLink over subscriptions-transport-ws (subprotocol graphql-ws), as older portals run it:
// npx tsx examples/protocols/subscriptions-transport-ws.ts
// (`apollo-client-3` is this repository's alias of @apollo/client@3; an application imports '@apollo/client/core'
// and '@apollo/client/link/ws'.)
import { ApolloClient, InMemoryCache } from 'apollo-client-3/core';
import { WebSocketLink } from 'apollo-client-3/link/ws';
import { SubscriptionClient } from 'subscriptions-transport-ws';
import WebSocket from 'ws';
import { FailedTransactionsDocument } from '../generated/graphql.ts';

const server = process.env['SERVER'] ?? 'localhost:9003';
const subscriptions = new SubscriptionClient(`ws://${server}/graphql`, { reconnect: true, connectionParams: {} }, WebSocket);
const client = new ApolloClient({ link: new WebSocketLink(subscriptions), cache: new InMemoryCache() });

let results = 0;
const subscription = client.subscribe({ query: FailedTransactionsDocument, variables: { replay: 5 } }).subscribe({
  next: ({ data }) => {
    console.log(JSON.stringify(data));
    if (++results < 5) return;
    subscription.unsubscribe();
    subscriptions.close();
  },
  error: (error: unknown) => console.error(error),
});
