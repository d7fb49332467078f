import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

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

/** Launches headless Debian chromium through playwright-core. The caller closes it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} not found${inCI() ? ' and CI is set, so browser tests may not be skipped' : ''}: ` +
        'install it with `apt-get install chromium` (.ci/run does this)',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], timeout: 60_000 });
}
