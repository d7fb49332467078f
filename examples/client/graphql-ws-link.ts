/**
 * The kit is a graphql-ws `Client`, so Apollo's own GraphQLWsLink accepts it too (ResumableLink adds
 * per-operation options through `context.resumable` and Node-safe error mapping).
 */
import { ApolloClient, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createResumableClient } from 'aurigraph-realtime/client';

export const client = new ApolloClient({
  link: new GraphQLWsLink(createResumableClient({ url: 'ws://localhost:9003/graphql' })),
  cache: new InMemoryCache(),
});
