import { expect, test } from 'vitest';
import { LiveMetricsDocument } from '../../examples/generated/graphql.ts';
import { graphqlWsClient, subscribe } from '../helpers/clients.ts';
import { useTestServer } from '../helpers/server.ts';
import { take } from '../helpers/wait.ts';

const server = useTestServer({ METRICS_INTERVAL_MS: '200' });

test('graphql-ws delivers metrics with only the selected fields', async () => {
  const results = await take(subscribe(graphqlWsClient(server), LiveMetricsDocument), 2);
  for (const result of results) {
    expect(result.errors).toBeUndefined();
    expect(Object.keys(result.data?.metrics ?? {}).sort()).toEqual(['errorRate', 'timestamp', 'tps']);
  }
});
