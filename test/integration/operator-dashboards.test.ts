import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { LiveTransactionsDocument } from '../../examples/generated/graphql.ts';
import { graphqlWsClient } from '../helpers/clients.ts';
import { collect } from '../helpers/collect.ts';
import { parsePrometheus, samplesOf, sampleValue, scrape, type Scrape } from '../helpers/ops.ts';
import { metricSelectors, problemsAgainstScrape } from '../helpers/promql.ts';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server.ts';
import { useTestServer, type ServerUrls } from '../helpers/server.ts';
import { describeWithBinary, findSystemBinary } from '../helpers/system-binaries.ts';
import { openLegacy, receivesMore, tryUpgrade } from '../helpers/sockets.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * What operators look at — deploy/grafana/aurigraph-realtime.json and
 * deploy/prometheus/{alerts,alerts.test,scrape}.yml — against a real server:
 * every metric a panel or an alert queries is in its /metrics, with the labels
 * the query groups and filters by; the dashboard shows what the issue names;
 * and, with promtool (Debian package `prometheus`), the rules load, their unit
 * tests pass and every panel query parses.
 */

const file = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const DASHBOARD_FILE = file('deploy/grafana/aurigraph-realtime.json');
const ALERTS_FILE = file('deploy/prometheus/alerts.yml');
const ALERT_TESTS_FILE = file('deploy/prometheus/alerts.test.yml');
const SCRAPE_FILE = file('deploy/prometheus/scrape.yml');

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  datasource?: { type?: string; uid?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

/** One PromQL expression and where it comes from, for failure messages. */
interface Query {
  where: string;
  expr: string;
}

const loadDashboard = () => JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const loadRules = () => parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as RuleFile;

/** Panels at every level: rows keep their panels inside when collapsed. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

/** Grafana's `label_values(<selector>, <label>)` as the PromQL it stands for: the label must exist on the selector's series. */
function variableQueryToPromQL(query: string): string {
  const labelValues = /^\s*label_values\(([\s\S]*),\s*([a-zA-Z_]\w*)\s*\)\s*$/.exec(query);
  return labelValues ? `group by (${labelValues[2]}) (${labelValues[1]})` : query;
}

/** Every PromQL expression of a dashboard: each panel target and each query variable. */
function dashboardQueries(dashboard: Dashboard): Query[] {
  const queries: Query[] = [];
  for (const panel of allPanels(dashboard.panels)) {
    for (const target of panel.targets ?? []) {
      if (target.expr) queries.push({ where: `panel "${panel.title}" ${target.refId ?? ''}`.trim(), expr: target.expr });
    }
  }
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    if (query) queries.push({ where: `variable $${variable.name}`, expr: variableQueryToPromQL(query) });
  }
  return queries;
}

function ruleQueries(rules: RuleFile): Query[] {
  return rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `rule ${rule.alert ?? rule.record}`, expr: rule.expr })));
}

/** Every problem of every query against one scrape, each prefixed with where the query is. */
function problemsOf(queries: Query[], metrics: Pick<Scrape, 'samples' | 'types'>): string[] {
  return queries.flatMap(({ where, expr }) => problemsAgainstScrape(expr, metrics).map((problem) => `${where}: ${problem}`));
}

/** What Grafana substitutes before a query reaches Prometheus: intervals become a duration, other variables match anything. */
function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{\w+(?::\w+)?\}|\$\w+/g, '.*');
}

describe('the PromQL reader finds what a query reads', () => {
  test('metric names, with the labels each query filters and groups by', () => {
    expect(
      metricSelectors(
        'histogram_quantile(0.99, sum by (le, endpoint) (rate(x_ms_bucket{instance=~"$instance", job="a"}[$__rate_interval])))',
      ),
    ).toEqual([{ metric: 'x_ms_bucket', labels: ['instance', 'job', 'le', 'endpoint'] }]);
    // Grouping after the arguments, vector matching, keywords and numbers are not metrics.
    expect(metricSelectors('sum(rate(a_total{reason="slow"}[5m] offset 1h)) by (transport) / on (instance) group_left b > bool 2')).toEqual(
      [
        { metric: 'a_total', labels: ['reason', 'transport', 'instance'] },
        { metric: 'b', labels: ['instance'] },
      ],
    );
    // Strings and function names are not metrics; a selector named by __name__ is.
    expect(metricSelectors('label_replace(up, "dst", "$1", "src", "(rate|sum)") and {__name__="c_total", reason!~"x|y"}')).toEqual([
      { metric: 'up', labels: [] },
      { metric: 'c_total', labels: ['reason'] },
    ]);
    // Subqueries and Grafana variables in ranges.
    expect(metricSelectors('max_over_time(rate(d_total[1m])[$__range:30s])')).toEqual([{ metric: 'd_total', labels: [] }]);
    expect(() => metricSelectors('sum(rate(e_total[5m])')).toThrow(/unbalanced/);
    expect(() => metricSelectors('{__name__=~"aurigraph_.*"}')).toThrow(/__name__/);
  });

  test('it fails a query on a missing metric, a missing label, or a label it cannot see yet', () => {
    const metrics = parsePrometheus(
      [
        '# TYPE good_total counter',
        'good_total{reason="a"} 1',
        '# TYPE lat_ms histogram',
        'lat_ms_bucket{le="1",endpoint="x"} 1',
        'lat_ms_bucket{le="+Inf",endpoint="x"} 1',
        'lat_ms_sum{endpoint="x"} 1',
        'lat_ms_count{endpoint="x"} 1',
        '# TYPE quiet_total counter',
        '',
      ].join('\n'),
    );
    const check = (expr: string) => problemsAgainstScrape(expr, metrics);
    expect(check('sum by (reason) (rate(good_total{instance=~".*"}[5m]))')).toEqual([]);
    expect(check('histogram_quantile(0.5, sum by (le, endpoint) (rate(lat_ms_bucket[5m]))) / lat_ms_count')).toEqual([]);
    expect(check('up == 0')).toEqual([]);
    expect(check('rate(missing_total[5m])')).toEqual(['missing_total: not in /metrics']);
    expect(check('lat_ms_total')).toEqual(['lat_ms_total: not in /metrics']);
    expect(check('sum by (transport) (rate(good_total[5m]))')).toEqual(['good_total: has no label "transport"']);
    expect(check('sum by (reason) (rate(quiet_total[5m]))')).toEqual([
      'quiet_total: no sample yet, so its labels (reason) cannot be checked',
    ]);
    // The same check over a dashboard: one bogus panel is one problem, named by its panel.
    const dashboard = loadDashboard();
    dashboard.panels.push({
      id: 999,
      type: 'timeseries',
      title: 'Bogus',
      gridPos: { x: 0, y: 999, w: 24, h: 8 },
      targets: [{ refId: 'A', expr: 'sum(rate(aurigraph_no_such_metric_total[5m]))' }],
    });
    expect(problemsOf(dashboardQueries(dashboard), metrics)).toContain('panel "Bogus" A: aurigraph_no_such_metric_total: not in /metrics');
  });
});

describe('the dashboard file', () => {
  const dashboard = loadDashboard();
  const panels = allPanels(dashboard.panels).filter((panel) => panel.type !== 'row');

  test('is an importable Grafana dashboard: schema, uid, a Prometheus data source variable, job and instance variables', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe('aurigraph-realtime');
    const variables = Object.fromEntries(dashboard.templating.list.map((variable) => [variable.name, variable]));
    expect(variables['datasource']).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables['instance']).toMatchObject({ type: 'query', datasource: { uid: '${datasource}' } });
    expect(variables['job']).toMatchObject({ type: 'query', datasource: { uid: '${datasource}' } });
    const ids = allPanels(dashboard.panels).map((panel) => panel.id);
    expect(new Set(ids).size, 'panel ids are unique').toBe(ids.length);
  });

  test('every panel queries the chosen data source and filters every series by the job and instance variables', () => {
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      expect(panel.targets?.length, `${panel.title} has queries`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource?.uid, panel.title).toBe('${datasource}');
        for (const selector of metricSelectors(target.expr ?? '')) {
          expect(selector.labels, `${panel.title}: ${selector.metric}`).toEqual(expect.arrayContaining(['job', 'instance']));
        }
        expect(target.expr, panel.title).toMatch(/instance=~"\$instance"/);
      }
    }
  });

  test('panels lie on the 24-column grid without overlapping', () => {
    const cells = new Map<string, string>();
    for (const panel of allPanels(dashboard.panels)) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const key = `${column},${row}`;
          expect(cells.get(key), `${panel.title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, panel.title);
        }
      }
    }
  });

  test('shows what operators look at', () => {
    const uses = panels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((target) => metricSelectors(target.expr ?? '').map((use) => ({ ...use, expr: target.expr ?? '' }))),
    );
    const shown = (metric: string, labels: string[] = [], exprPattern?: RegExp) =>
      uses.some(
        (use) =>
          use.metric === metric && labels.every((label) => use.labels.includes(label)) && (!exprPattern || exprPattern.test(use.expr)),
      );
    const wanted: [what: string, metric: string, labels?: string[], exprPattern?: RegExp][] = [
      ['subscribers per stream and transport', 'aurigraph_websocket_subscribers', ['endpoint', 'transport']],
      ['open connections per transport', 'aurigraph_transport_sockets', ['transport']],
      ['delivered messages/s', 'aurigraph_messages_sent_by_stream_total', ['endpoint'], /rate\(/],
      ['live latency p50', 'aurigraph_websocket_broadcast_latency_ms_bucket', ['le'], /histogram_quantile\(0\.5,/],
      ['live latency p99', 'aurigraph_websocket_broadcast_latency_ms_bucket', ['le'], /histogram_quantile\(0\.99,/],
      ['the latency objective', 'aurigraph_broadcast_latency_target_ms'],
      ['slow-consumer closes', 'aurigraph_connections_terminated_total', ['reason', 'transport'], /reason="slow-consumer"/],
      ['drops', 'aurigraph_messages_dropped_total', ['endpoint']],
      ['refusals by reason', 'aurigraph_connections_refused_total', ['reason']],
      ['event-loop lag', 'nodejs_eventloop_lag_p99_seconds'],
      ['Redis bus lag', 'aurigraph_bus_lag_ms_bucket', ['le'], /histogram_quantile\(0\.99,/],
      ['bus up', 'aurigraph_bus_up'],
      ['readiness', 'aurigraph_readiness', ['state']],
      ['memory', 'process_resident_memory_bytes'],
      ['CPU', 'process_cpu_seconds_total', [], /rate\(/],
      ['open files against the limit', 'process_max_fds'],
      ['connections against MAX_CONNECTIONS', 'aurigraph_connections_limit'],
    ];
    const missing = wanted.filter(([, metric, labels, pattern]) => !shown(metric, labels, pattern)).map(([what]) => what);
    expect(missing, 'shown by no panel').toEqual([]);
  });
});

describe('the alert rules file', () => {
  test('has the alerts operators need, each with a severity, a summary and a first thing to check', () => {
    const rules = loadRules().groups.flatMap((group) => group.rules);
    const names = rules.map((rule) => rule.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        'AurigraphBroadcastLatencyHigh',
        'AurigraphRedisBusDown',
        'AurigraphNotReady',
        'AurigraphInstanceDown',
        'AurigraphConnectionsNearLimit',
      ]),
    );
    for (const rule of rules) {
      expect(rule.labels?.['severity'], rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations?.['summary'], rule.alert).toBeTruthy();
      expect(rule.annotations?.['description'], rule.alert).toMatch(/First check/);
    }
    // The objective is the one each instance reports (BROADCAST_LATENCY_TARGET_MS), not a number copied here.
    const latency = rules.find((rule) => rule.alert === 'AurigraphBroadcastLatencyHigh');
    expect(metricSelectors(latency?.expr ?? '').map((use) => use.metric)).toEqual([
      'aurigraph_websocket_broadcast_latency_ms_bucket',
      'aurigraph_broadcast_latency_target_ms',
    ]);
  });

  test('every alert has a promtool unit test in which it fires', () => {
    const alerts = loadRules().groups.flatMap((group) => group.rules.flatMap((rule) => (rule.alert ? [rule.alert] : [])));
    const tests = parseYaml(readFileSync(ALERT_TESTS_FILE, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const fired = new Set(
      tests.tests.flatMap((group) => (group.alert_rule_test ?? []).filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname)),
    );
    expect(alerts.filter((alert) => !fired.has(alert))).toEqual([]);
  });
});

/**
 * Traffic that makes every labelled series appear: a graphql-ws subscriber and
 * a legacy one replaying history (live and history frames, latency), an
 * upgrade from a foreign origin (a refusal), and two legacy readers that never
 * answer pings — past SLOW_CONSUMER_LAG_MS the metrics one has snapshots
 * dropped and the transactions one is closed as a slow consumer; past
 * WS_PING_INTERVAL_MS the metrics one is terminated for a missed pong.
 */
async function makeTraffic(server: ServerUrls): Promise<Scrape> {
  const live = collect(graphqlWsClient(server), LiveTransactionsDocument);
  await waitFor(() => live.results.length >= 3, { timeoutMs: 15_000, what: 'the graphql-ws subscriber to receive 3 events' });
  const replaying = await openLegacy(server, '/ws/transactions?replay=3');
  await receivesMore(replaying, 4, 'the legacy subscriber to receive history and a live event');
  const refused = await tryUpgrade(server.ws('/ws/metrics'), { headers: { origin: 'https://attacker.example' } });
  expect(refused.status).toBe(403);
  await openLegacy(server, '/ws/metrics', { autoPong: false });
  await openLegacy(server, '/ws/transactions', { autoPong: false });
  return waitFor(
    async () => {
      const metrics = await scrape(server);
      const value = (name: string, labels: Record<string, string>) => sampleValue(metrics, name, labels) ?? 0;
      const seen =
        value('aurigraph_connections_refused_total', { reason: 'origin' }) > 0 &&
        value('aurigraph_history_messages_sent_total', { endpoint: 'transactions', transport: 'legacy' }) > 0 &&
        value('aurigraph_messages_dropped_total', { endpoint: 'metrics', transport: 'legacy', reason: 'slow-consumer' }) > 0 &&
        value('aurigraph_connections_terminated_total', { transport: 'legacy', reason: 'slow-consumer' }) > 0 &&
        value('aurigraph_connections_terminated_total', { transport: 'legacy', reason: 'missed-pong' }) > 0 &&
        samplesOf(metrics, 'aurigraph_websocket_broadcast_latency_ms_count').some((sample) => sample.value > 0);
      return seen && metrics;
    },
    { timeoutMs: 20_000, intervalMs: 200, what: 'refusal, history, drop, slow-consumer, missed-pong and latency series in /metrics' },
  );
}

describe('against a real server (BUS=memory)', () => {
  const server = useTestServer({
    METRICS_INTERVAL_MS: '50',
    // Readers that answer pings are never near these; the two that do not cross both within a few seconds.
    WS_PING_INTERVAL_MS: '2000',
    SLOW_CONSUMER_LAG_MS: '1000',
    CORS_ORIGINS: 'https://portal.example',
    BROADCAST_LATENCY_TARGET_MS: '250',
  });
  let metrics: Scrape;
  beforeAll(async () => {
    metrics = await makeTraffic(server);
  });

  test('every metric and label the dashboard queries is in /metrics', () => {
    const queries = dashboardQueries(loadDashboard());
    expect(queries.length).toBeGreaterThan(20);
    expect(problemsOf(queries, metrics)).toEqual([]);
  });

  test('every metric and label the alert rules query is in /metrics', () => {
    expect(problemsOf(ruleQueries(loadRules()), metrics)).toEqual([]);
  });

  test('readiness, the bus and the latency objective are exported', () => {
    expect(sampleValue(metrics, 'aurigraph_readiness', { state: 'ready' })).toBe(1);
    for (const state of ['starting', 'degraded', 'draining', 'stopped'])
      expect(sampleValue(metrics, 'aurigraph_readiness', { state }), state).toBe(0);
    expect(sampleValue(metrics, 'aurigraph_bus_up', { bus: 'memory' })).toBe(1);
    expect(sampleValue(metrics, 'aurigraph_broadcast_latency_target_ms')).toBe(250);
    // The in-process bus has no lag to report: the histogram exists, empty.
    expect(sampleValue(metrics, 'aurigraph_bus_lag_ms_count')).toBe(0);
  });
});

describeWithRedis('against a real server (BUS=redis)', () => {
  const redis = useRedisServer();
  const server = useTestServer(() => ({ BUS: 'redis', REDIS_URL: redis.url }));
  const busQueries = () =>
    [...dashboardQueries(loadDashboard()), ...ruleQueries(loadRules())].filter((query) =>
      metricSelectors(query.expr).some((use) => use.metric.startsWith('aurigraph_bus_')),
    );

  test('bus lag is measured per event read from Redis, and the bus panels and alerts find their series', async () => {
    const metrics = await waitFor(
      async () => {
        const current = await scrape(server);
        return (sampleValue(current, 'aurigraph_bus_lag_ms_count') ?? 0) > 0 && current;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'events read from Redis to be counted in aurigraph_bus_lag_ms' },
    );
    expect(sampleValue(metrics, 'aurigraph_bus_up', { bus: 'redis' })).toBe(1);
    expect(busQueries().length).toBeGreaterThanOrEqual(4);
    expect(problemsOf(busQueries(), metrics)).toEqual([]);
  });

  test('bus up and readiness follow Redis going away and coming back', async () => {
    const value = async (name: string, labels: Record<string, string>) => sampleValue(await scrape(server), name, labels);
    await redis.kill();
    await waitFor(async () => (await value('aurigraph_bus_up', { bus: 'redis' })) === 0, { what: 'aurigraph_bus_up to turn 0' });
    expect(await value('aurigraph_readiness', { state: 'degraded' })).toBe(1);
    expect(await value('aurigraph_readiness', { state: 'ready' })).toBe(0);
    await redis.restart();
    await waitFor(async () => (await value('aurigraph_bus_up', { bus: 'redis' })) === 1, {
      timeoutMs: 20_000,
      what: 'aurigraph_bus_up to turn 1 again',
    });
    expect(await value('aurigraph_readiness', { state: 'ready' })).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// promtool

/** promtool (Debian package prometheus), found and skipped like redis-server and nginx; `PROMTOOL_BIN` overrides. */
const PROMTOOL = findSystemBinary({
  name: 'promtool',
  envName: 'PROMTOOL_BIN',
  packageName: 'prometheus',
  dirs: ['/usr/bin', '/usr/local/bin'],
});

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(PROMTOOL.path as string, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** Rules that record each query: promtool then parses every one of them as Prometheus would. */
function recordingRulesFor(queries: Query[]): string {
  const rules = queries.map((query, index) => ({ record: `dashboard:query_${index}`, expr: withGrafanaVariables(query.expr) }));
  return stringifyYaml({ groups: [{ name: 'dashboard-queries', rules }] });
}

describeWithBinary(PROMTOOL, 'promtool', 'the rules, their unit tests, the scrape config and the panel queries with promtool', () => {
  test('promtool check rules: the alert rules load', async () => {
    const { code, output } = await promtool('check', 'rules', ALERTS_FILE);
    expect(code, output).toBe(0);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });

  test('promtool test rules: the latency, Redis-down and every other alert fire when they should, and only then', async () => {
    const { code, output } = await promtool('test', 'rules', ALERT_TESTS_FILE);
    expect(code, output).toBe(0);
    expect(output).toMatch(/SUCCESS/);
  });

  test('promtool check config: the example scrape config and the rules it loads', async () => {
    const { code, output } = await promtool('check', 'config', SCRAPE_FILE);
    expect(code, output).toBe(0);
  });

  test('every dashboard query parses as PromQL once Grafana substituted its variables; a broken one does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aurigraph-dashboard-'));
    try {
      const good = join(dir, 'dashboard.yml');
      writeFileSync(good, recordingRulesFor(dashboardQueries(loadDashboard())));
      const checked = await promtool('check', 'rules', good);
      expect(checked.code, checked.output).toBe(0);
      const bad = join(dir, 'broken.yml');
      writeFileSync(bad, recordingRulesFor([{ where: 'broken', expr: 'sum by (le (rate(x_bucket[$__rate_interval]))' }]));
      expect((await promtool('check', 'rules', bad)).code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
