// Apollo Client 4 over graphql-ws (GraphQLWsLink): npx tsx examples/protocols/graphql-ws-apollo.ts
import { ApolloClient, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { LiveMetricsDocument } from '../generated/graphql.ts';

const server = process.env['SERVER'] ?? 'localhost:9003';
const ws = createClient({ url: `ws://${server}/graphql`, webSocketImpl: WebSocket });
const client = new ApolloClient({ link: new GraphQLWsLink(ws), cache: new InMemoryCache() });

let results = 0;
const subscription = client.subscribe({ query: LiveMetricsDocument }).subscribe(({ data }) => {
  console.log(JSON.stringify(data)); // only the selected fields (and Apollo's __typename) arrive
  if (++results < 5) return;
  subscription.unsubscribe();
  void ws.dispose();
});
