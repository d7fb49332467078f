import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runFilterMatrix, TRANSPORT_NAMES, type FilterCase, type Matrix } from '../helpers/filter-matrix.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { matchesNetwork, query, type Item, type NetworkFilterSpec } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * NetworkFilter (peerId, connected) on graphql-ws, SSE and legacy query
 * parameters. The simulator churns one peer every ~2 s, too slowly for a
 * short window, so every feed replays the stream's history (the genesis
 * connects) and the test adds live connect/disconnect events for the same
 * real peers straight into the server's network stream (where the bus would
 * put them), while the simulator's own churn keeps going.
 */

let server: TestServer;
let matrix: Matrix;
let peers: { peerId: string; ip: string; version: string }[] = [];
let injected = 0;

function networkCases(ids: string[]): FilterCase[] {
  const n = (name: string, filter: NetworkFilterSpec, extra: Partial<FilterCase> = {}): FilterCase => ({
    name,
    filter: filter as Record<string, unknown>,
    matches: (item: Item) => matchesNetwork(filter, item),
    ...extra,
  });
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

const CASES = networkCases(Array(6).fill('x')).map((c) => c.name);

beforeAll(async () => {
  server = await startTestServer({ SIM_PEERS: '8' });
  peers = await waitFor(
    async () => {
      const data = await query<{ peers: { peerId: string; ip: string; version: string }[] }>(server, '{ peers { peerId ip version } }');
      return data.peers.length >= 5 && data.peers;
    },
    { what: 'at least 5 connected peers' },
  );
  const hub = server.app.streams.hubs.network;
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
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  };
  matrix = await runFilterMatrix(server, 'network', networkCases(peers.map((p) => p.peerId)), {
    minEach: 3,
    replay: 1000,
    during: drive,
  });
}, 60_000);

afterAll(async () => {
  await matrix?.stop();
  await server?.stop();
});

describe.each(TRANSPORT_NAMES)('network filter over %s', (transport) => {
  test.each(CASES)('%s: exactly the matching control events arrive', (name) => {
    const r = matrix.result(name, transport);
    expect(r.feed.errors, `${r.feed.label} errors`).toEqual([]);
    expect(r.missing, `${r.feed.label}: matching events that never arrived (window ${matrix.lo}..${matrix.hi})`).toEqual([]);
    expect(r.unexpected, `${r.feed.label}: events that should have been filtered out`).toEqual([]);
    expect(r.violations.map((e) => e.seq), `${r.feed.label}: received events that do not match`).toEqual([]);
    if (name.includes('matches nothing')) {
      expect(r.feed.events).toEqual([]);
      expect(r.nonMatching).toBeGreaterThan(0);
    } else {
      expect(r.expected.length).toBeGreaterThanOrEqual(3);
      expect(r.nonMatching).toBeGreaterThanOrEqual(3);
    }
  });
});

test('the window holds history (genesis connects) and live events after the feeds attached', () => {
  const control = matrix.controls['graphql-ws'].events.filter((e) => e.seq <= matrix.hi);
  expect(control[0]?.seq).toBe(1);
  expect(control.filter((e) => e['connected'] === false).length).toBeGreaterThanOrEqual(3);
  expect(injected).toBeGreaterThan(0);
});
