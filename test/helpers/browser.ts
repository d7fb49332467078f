import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { track, useFixture } from './track.ts';

/** Debian's `chromium` package; tests never download a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags known to work headless as root in a container with no network but
 * the test server: no sandbox (root), no GPU, and none of chromium's own
 * background traffic (updates, sync, QUIC probing) that would only time out.
 * playwright-core adds `--headless` itself and launches every browser with a
 * fresh temporary profile, so no `--user-data-dir` is needed (it refuses one).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * Why browser suites cannot run here, or undefined when they can. Outside CI a
 * missing chromium skips the suite with a printed reason; in CI it never skips,
 * so launchChromium() fails the suite loudly instead of letting it pass unseen.
 */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH) || inCI()) return undefined;
  const reason = `${CHROMIUM_PATH} not found; install Debian's chromium package (apt-get install chromium) to run browser tests`;
  console.warn(`[browser tests skipped] ${reason}`);
  return reason;
}

/** Launches headless Debian chromium through playwright-core; closed when the test (or suite scope) ends. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} not found${inCI() ? ' and CI is set, so browser tests may not be skipped' : ''}: ` +
        'install it with `apt-get install chromium` (.ci/run does this)',
    );
  }
  return track(await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], timeout: 60_000 }));
}

/** The suite's chromium: launched in a beforeAll, closed in its afterAll (before a server of the same suite stops). */
export function useBrowser(timeoutMs = 60_000): Browser {
  return useFixture(() => launchChromium(), { timeoutMs, name: 'useBrowser()' });
}

/**
 * A browser context that may reach only `origin` (host:port): every other
 * request and WebSocket (a CDN, fonts, telemetry) is aborted and recorded in
 * `offServer`. Closed when the test ends.
 */
export async function offlineContext(
  browser: Browser,
  origin: string,
  viewport: { width: number; height: number },
): Promise<{ context: BrowserContext; offServer: string[] }> {
  const context = track(await browser.newContext({ viewport, serviceWorkers: 'block' }));
  const offServer: string[] = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (new URL(url).host === origin) return route.continue();
    offServer.push(url);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(
    (url) => url.host !== origin,
    async (ws) => {
      offServer.push(ws.url());
      await ws.close();
    },
  );
  return { context, offServer };
}
