// Multipart HTTP subscriptions: Apollo Client 4's HttpLink, no WebSocket at all:
// npx tsx examples/protocols/multipart.ts
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { LiveTransactionsDocument } from '../generated/graphql.ts';

const server = process.env['SERVER'] ?? 'localhost:9003';
const client = new ApolloClient({ link: new HttpLink({ uri: `http://${server}/graphql` }), cache: new InMemoryCache() });

let results = 0;
const subscription = client.subscribe({ query: LiveTransactionsDocument }).subscribe(({ data, error }) => {
  console.log(error ? `error: ${error.message}` : JSON.stringify(data));
  if (++results < 5) return;
  subscription.unsubscribe();
  client.stop();
});
