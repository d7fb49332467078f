import { expect, test } from 'vitest';
import { caseBuilder, runFilterMatrix, testFilterCases, type FilterCase } from '../helpers/filter-matrix.ts';
import { useTestServer } from '../helpers/server.ts';
import { matchesNetwork, query } from '../helpers/stream-feeds.ts';
import { useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * NetworkFilter (peerId, connected) on graphql-ws, SSE and legacy query
 * parameters. The simulator churns one peer every ~2 s, too slowly for a
 * short window, so every feed replays the stream's history (the genesis
 * connects) and the test adds live connect/disconnect events for the same
 * real peers straight into the server's network stream (where the bus would
 * put them), while the simulator's own churn keeps going.
 */

function networkCases(ids: string[]): FilterCase[] {
  const n = caseBuilder(matchesNetwork);
  return [
    n('peerId', { peerId: ids.slice(0, 2) }),
    n('peerId OR within the list', { peerId: ids.slice(2, 5) }, { legacyStyle: 'comma' }),
    n('connected true', { connected: true }),
    n('connected false', { connected: false }),
    n('AND: peerId + connected', { peerId: ids.slice(0, 4), connected: false }),
    n('empty peerId list matches nothing', { peerId: [] }, { matchesNothing: true }),
    n('unknown peer matches nothing', { peerId: ['12D3KooWnotAPeerOfThisChain'] }, { matchesNothing: true }),
  ];
}

const server = useTestServer({ SIM_PEERS: '8' });
const run = useFixture(
  async () => {
    const peers = await waitFor(
      async () => {
        const data = await query<{ peers: { peerId: string; ip: string; version: string }[] }>(server, '{ peers { peerId ip version } }');
        return data.peers.length >= 5 && data.peers;
      },
      { what: 'at least 5 connected peers' },
    );
    const hub = server.app.streams.hubs.network;
    let injected = 0;
    // Live churn of the real peers: each disconnects and reconnects, paced like a busy network.
    const drive = async () => {
      for (let round = 0; round < 4; round++) {
        for (const connected of [false, true]) {
          for (const peer of peers.slice(0, 6)) {
            hub.publish({
              timestamp: new Date().toISOString(),
              peerId: peer.peerId,
              ip: peer.ip,
              connected,
              latency: connected ? 12.5 : 0,
              version: peer.version,
            });
            injected++;
          }
          // Pacing, not synchronisation: the feeds are all attached; this only spreads the events out.
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      }
    };
    const matrix = await runFilterMatrix(server, 'network', networkCases(peers.map((p) => p.peerId)), {
      minEach: 3,
      replay: 1000,
      during: drive,
    });
    return { matrix, injected };
  },
  { timeoutMs: 60_000 },
);

testFilterCases(
  'network',
  networkCases(Array(6).fill('x')).map((c) => c.name),
  () => run.matrix,
);

test('the window holds history (genesis connects) and live events after the feeds attached', () => {
  const control = run.matrix.controls['graphql-ws'].events.filter((e) => e.seq <= run.matrix.hi);
  expect(control[0]?.seq).toBe(1);
  expect(control.filter((e) => e['connected'] === false).length).toBeGreaterThanOrEqual(3);
  expect(run.injected).toBeGreaterThan(0);
});
