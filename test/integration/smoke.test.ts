import { afterAll, beforeAll, expect, test } from 'vitest';
import { LiveMetricsDocument } from '../../examples/generated/graphql.ts';
import { graphqlWsClient, subscribe } from '../helpers/clients.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { take } from '../helpers/wait.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ METRICS_INTERVAL_MS: '200' });
});
afterAll(() => server.stop());

test('graphql-ws delivers metrics with only the selected fields', async () => {
  const client = graphqlWsClient(server);
  const results = await take(subscribe(client, LiveMetricsDocument), 2);
  await client.dispose();
  for (const result of results) {
    expect(result.errors).toBeUndefined();
    expect(Object.keys(result.data?.metrics ?? {}).sort()).toEqual(['errorRate', 'timestamp', 'tps']);
  }
});
