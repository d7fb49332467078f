/**
 * deploy/ is what an operator copies: these checks keep it in step with the code. The env example
 * names only options the server reads and, as written, is a production configuration it accepts;
 * the systemd unit runs what `npm run build` makes and outlasts the drain before it sends SIGKILL;
 * the Redis settings and REDIS_URL name the same user, and its ACL covers the keys the server uses.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { ENV_NAMES, loadConfig, type Config } from '../../src/config.ts';
import { connectionCapacity } from '../../src/security/capacity.ts';

const path = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const read = (file: string) => readFileSync(path(file), 'utf8');

const UNIT = read('deploy/systemd/aurigraph-realtime.service');
const ENV_EXAMPLE = read('deploy/aurigraph-realtime.env.example');
const REDIS_CONF = read('deploy/redis/aurigraph-realtime.conf');

/** Read by Node itself, not by the server's configuration, and worth setting in production. */
const NODE_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'];

/** `Section.Key` → values, in order (systemd allows some keys more than once). Comments and blank lines are skipped. */
function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      section = header[1];
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq).trim()}`;
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return settings;
}

const unit = unitSettings(UNIT);
const setting = (key: string): string | undefined => unit.get(key)?.at(-1);

/** systemd's time spans: `30`, `30s`, `1min 30s`, `500ms`. Milliseconds. */
function timeSpanMs(span: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, value, unitName] of span.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]*)/g)) {
    const factor = unitName ? units[unitName] : 1000;
    if (factor === undefined) throw new Error(`unknown time unit in "${span}"`);
    total += Number(value) * factor;
  }
  return total;
}

/** Lines `NAME=value` of the env file: `active` (uncommented) and every name mentioned as `# NAME=…` too. */
function envFile(text: string): { active: Record<string, string>; mentioned: string[] } {
  const active: Record<string, string> = {};
  const mentioned: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match?.[2]) continue;
    mentioned.push(match[2]);
    if (!match[1]) active[match[2]] = match[3] ?? '';
  }
  return { active, mentioned };
}

const env = envFile(ENV_EXAMPLE);
const exampleConfig = (): Config => loadConfig(env.active);

/**
 * How long a stop may take before the process exits by itself. SHUTDOWN_TIMEOUT_MS bounds the whole
 * stop, the /ready grace included; counted here as if the grace and a second for the last log lines
 * (exitAfterLogs in src/ops/logger.ts) came on top, so systemd's SIGKILL has room to spare.
 */
const stopBoundMs = (config: Config): number => config.readyGraceMs + config.shutdownTimeoutMs + 1000;

/** The ACL user the Redis settings define for the application: `user <name> on >password ~keys &channels …`. */
function aclUser(): { name: string; password: string; keyPatterns: string[] } {
  const line = REDIS_CONF.split('\n').find((l) => /^user (?!default\b)\S+ on /.test(l)) ?? '';
  const words = line.split(/\s+/);
  return {
    name: words[1] ?? '',
    password: words.find((w) => w.startsWith('>'))?.slice(1) ?? '',
    keyPatterns: words.filter((w) => w.startsWith('~')).map((w) => w.slice(1)),
  };
}

/** Redis's glob for key patterns, enough for `prefix:*`. */
const globMatches = (pattern: string, key: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(key);

describe('deploy/aurigraph-realtime.env.example', () => {
  test('names only variables the server reads (and Node’s own)', () => {
    expect(env.mentioned.length).toBeGreaterThan(10);
    expect(env.mentioned.filter((name) => !ENV_NAMES.includes(name) && !NODE_VARIABLES.includes(name))).toEqual([]);
  });

  test('as written, is a production configuration the server accepts: Redis bus, ingest, JWT, one proxy hop', () => {
    const config = exampleConfig();
    expect(config.production).toBe(true);
    expect(config).toMatchObject({ bus: 'redis', sources: ['ingest'], graphiql: false, host: '127.0.0.1' });
    expect(config.auth.mode).toBe('jwt');
    expect(config.limits.trustProxy).toBe(true);
    expect(config.corsOrigins).not.toContain('http://localhost:5173');
  });

  test('its REDIS_URL logs in as the Redis settings’ ACL user, and that user may touch every key the server uses', () => {
    const user = aclUser();
    const url = new URL(exampleConfig().redis.url);
    expect(decodeURIComponent(url.username)).toBe(user.name);
    expect(decodeURIComponent(url.password)).toBe(user.password);
    const { keyPrefix, streamPrefix } = exampleConfig().redis;
    for (const key of [`${keyPrefix}:history`, `${keyPrefix}:events:transactions`, `${streamPrefix}:transactions`]) {
      expect(
        user.keyPatterns.some((pattern) => globMatches(pattern, key)),
        key,
      ).toBe(true);
    }
  });
});

describe('deploy/systemd/aurigraph-realtime.service', () => {
  test('runs what `npm run build` makes, as `npm run start:prod` does', () => {
    const build = ts.readConfigFile(path('tsconfig.build.json'), ts.sys.readFile).config as {
      compilerOptions: { outDir: string; rootDir: string };
      files: string[];
    };
    expect(build.files).toEqual([`${build.compilerOptions.rootDir}/main.ts`]);
    const main = `${build.compilerOptions.outDir}/main.js`;
    expect(setting('Service.ExecStart')).toBe(`/usr/bin/node /opt/aurigraph-realtime/${main}`);
    expect(setting('Service.WorkingDirectory')).toBe('/opt/aurigraph-realtime');
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    // `exec`: npm's shell is replaced by node, so a SIGTERM to npm reaches the server.
    expect(scripts['start:prod']).toBe(`exec node ${main}`);
  });

  test('as a user of its own, with the env file, restarted on failure, stopped with SIGTERM', () => {
    expect(setting('Service.User')).toBe('aurigraph');
    expect(setting('Service.Group')).toBe('aurigraph');
    expect(setting('Service.EnvironmentFile')).toBe('/etc/aurigraph-realtime/env');
    expect(ENV_EXAMPLE.split('\n')[0]).toContain('/etc/aurigraph-realtime/env');
    expect(setting('Service.KillSignal')).toBe('SIGTERM');
    expect(setting('Service.Restart')).toBe('on-failure');
    expect(setting('Install.WantedBy')).toBe('multi-user.target');
  });

  test('TimeoutStopSec outlasts the drain: the production defaults, and the env example’s settings', () => {
    const timeout = timeSpanMs(setting('Service.TimeoutStopSec') ?? '0');
    const productionDefaults = loadConfig({ NODE_ENV: 'production', AUTH_ALLOW_ANONYMOUS: 'true', SOURCES: 'simulator' });
    expect(productionDefaults.readyGraceMs).toBeGreaterThan(0);
    expect(timeout).toBeGreaterThan(stopBoundMs(productionDefaults));
    expect(timeout).toBeGreaterThan(stopBoundMs(exampleConfig()));
  });

  test('LimitNOFILE holds the production connection limit without lowering it', () => {
    const openFileLimit = Number(setting('Service.LimitNOFILE'));
    const requested = env.active['MAX_CONNECTIONS'];
    const capacity = connectionCapacity({
      requested: requested === undefined ? undefined : Number(requested),
      fallback: 10_000, // the production default (CONTRACT.md)
      openFileLimit,
    });
    expect(capacity.maxConnectionsRequested).toBeUndefined();
    expect(capacity.maxConnections).toBeGreaterThanOrEqual(10_000);
  });

  test('hardened, but not against V8’s JIT', () => {
    expect(setting('Service.NoNewPrivileges')).toBe('yes');
    expect(setting('Service.ProtectSystem')).toBe('strict');
    expect(setting('Service.CapabilityBoundingSet')).toBe('');
    // W^X memory would kill node at start: V8 writes the machine code it then runs.
    expect(unit.has('Service.MemoryDenyWriteExecute')).toBe(false);
  });
});

describe('deploy/redis/aurigraph-realtime.conf', () => {
  const directive = (name: string) =>
    REDIS_CONF.split('\n')
      .filter((l) => l.startsWith(`${name} `))
      .map((l) => l.slice(name.length + 1).trim())
      .at(-1);

  test('no anonymous access, a password, persistence, and no eviction', () => {
    expect(REDIS_CONF).toMatch(/^user default off$/m);
    expect(aclUser().password.length).toBeGreaterThan(0);
    expect(directive('appendonly')).toBe('yes');
    // Eviction would delete history or sequence counters without anyone noticing.
    expect(directive('maxmemory-policy')).toBe('noeviction');
  });
});
