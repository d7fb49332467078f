import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { browserSkipReason, offlineContext, useBrowser } from '../helpers/browser.ts';
import { useTestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { restartOnSamePort } from '../client/support.ts';

const SCREENSHOT = fileURLToPath(new URL('../../test-output/status-page.png', import.meta.url));
const PAGE_TIMEOUT_MS = 60_000;
const ENV = { METRICS_INTERVAL_MS: '250', SIM_TPS: '50' };

const skipReason = browserSkipReason();

describe.skipIf(skipReason !== undefined)(
  `live status page in headless chromium${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const firstServer = useTestServer(ENV);
    const browser = useBrowser(PAGE_TIMEOUT_MS);

    test(
      'loads offline, updates live, filters transactions on the server and resumes by itself after a restart',
      async () => {
        // The test restarts the server on the same port; the restarted one is the test's own (and closed with it).
        let server = firstServer;
        const origin = new URL(server.http()).host;
        // Only the server may be reached: a CDN, fonts or telemetry would be aborted and recorded.
        const { context, offServer } = await offlineContext(browser, origin, { width: 1440, height: 1200 });

        const page = await context.newPage();
        const consoleErrors: { text: string; at: number }[] = [];
        page.on('console', (message) => {
          if (message.type() === 'error') consoleErrors.push({ text: message.text(), at: Date.now() });
        });
        page.on('pageerror', (error) => consoleErrors.push({ text: `uncaught: ${error.message}`, at: Date.now() }));
        let navigations = 0;
        page.on('framenavigated', (frame) => {
          if (frame === page.mainFrame()) navigations++;
        });
        const sockets: string[] = [];
        page.on('websocket', (ws) => sockets.push(ws.url()));

        const text = (id: string) => page.getByTestId(id).innerText();
        const attr = (id: string, name: string) => page.getByTestId(id).getAttribute(name);
        const rowStatuses = () =>
          page
            .locator('[data-testid="transactions"] tbody tr[data-seq]')
            .evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset['status'] ?? ''));
        const rowSeqs = () =>
          page
            .locator('[data-testid="transactions"] tbody tr[data-seq]')
            .evaluateAll((rows) => rows.map((row) => Number((row as HTMLElement).dataset['seq'])));

        const response = await page.goto(server.http('/'), { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
        expect(response?.status()).toBe(200);
        expect(response?.headers()['content-security-policy']).toContain("connect-src 'self'");
        expect(await page.title()).toBe('Aurigraph live status');
        await expect.poll(() => attr('connection', 'data-state'), { timeout: 20_000 }).toBe('live');

        // ---- numbers update ----
        const stamps = new Set<string>();
        await waitFor(
          async () => {
            const stamp = await attr('tps', 'data-timestamp');
            if (stamp) stamps.add(stamp);
            return stamps.size >= 3;
          },
          { timeoutMs: 15_000, intervalMs: 100, what: 'three metrics snapshots on the page' },
        );
        expect(Number(await text('tps'))).toBeGreaterThanOrEqual(0);
        // The tile and the chart show a 10 s average; the last second's raw rate is beside it and in the chart's data.
        expect(Number(await text('tps-raw'))).toBeGreaterThanOrEqual(0);
        expect(await text('error-rate')).toMatch(/^\d+\.\d\d %$/);
        expect(Number(await text('connections'))).toBeGreaterThanOrEqual(5);
        await expect.poll(() => text('leader'), { timeout: 10_000 }).toMatch(/^0x[0-9a-f]{8}…[0-9a-f]{8}$/);
        const firstRound = Number(await text('round'));
        await expect.poll(async () => Number(await text('round')), { timeout: 10_000 }).toBeGreaterThan(firstRound);
        expect(Number(await text('epoch'))).toBeGreaterThanOrEqual(0);
        await expect.poll(async () => Number(await text('validators-total')), { timeout: 10_000 }).toBe(21);
        expect(await page.locator('[data-testid="validators"] tbody tr').count()).toBe(21);
        // "last block": a height, or "never" for a validator that has not proposed one (not "block 0").
        const lastBlocks = await page.locator('[data-testid="validators"] tbody tr td:nth-child(5)').allInnerTexts();
        for (const cell of lastBlocks) expect(cell).toMatch(/^(never|[1-9]\d*)$/);
        // Every row is on the page, none cut off by a scrolling panel.
        const table = await page.getByTestId('validators').boundingBox();
        const panel = await page.getByTestId('validators').locator('xpath=ancestor::div[contains(@class,"panel")]').boundingBox();
        expect((table?.y ?? 0) + (table?.height ?? 0)).toBeLessThanOrEqual((panel?.y ?? 0) + (panel?.height ?? 0));
        await expect.poll(async () => Number(await text('peers')), { timeout: 10_000 }).toBeGreaterThan(0);
        expect(await page.locator('[data-testid="peer-table"] tbody tr').count()).toBe(Number(await text('peers')));
        // The chart is drawn by uPlot from the metrics stream.
        await expect.poll(() => page.locator('[data-testid="chart"] canvas').count()).toBe(1);
        await expect
          .poll(async () => await page.locator('[data-testid="chart"] .u-legend').innerText())
          .toMatch(/TPS \(10 s avg\)[\s\S]*errors % \(10 s avg\)[\s\S]*TPS \(raw, per second\)/);
        // Transactions of every status stream in, newest first.
        await waitFor(async () => new Set(await rowStatuses()).size >= 2, { timeoutMs: 10_000, what: 'rows of several statuses' });
        const seqsAll = await rowSeqs();
        expect([...seqsAll].sort((a, b) => b - a)).toEqual(seqsAll);

        // ---- the filter: only FAILED rows, new ones keep coming ----
        await page.getByTestId('tx-status').selectOption('FAILED');
        await waitFor(
          async () => {
            const statuses = await rowStatuses();
            return statuses.length >= 3 && statuses.every((s) => s === 'FAILED');
          },
          { timeoutMs: 15_000, what: 'only FAILED rows' },
        );
        const newestFailed = Math.max(...(await rowSeqs()));
        await waitFor(async () => Math.max(...(await rowSeqs())) > newestFailed, { timeoutMs: 15_000, what: 'a new FAILED transaction' });
        expect(new Set(await rowStatuses())).toEqual(new Set(['FAILED']));

        await mkdir(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        expect(consoleErrors, 'console errors before the restart').toEqual([]);

        // ---- restart on the same port: the page notices, reconnects, resumes, no reload ----
        await page.evaluate(() => {
          (window as unknown as { marker: string }).marker = 'same page';
        });
        const restartedAt = new Date().toISOString();
        const socketsBefore = sockets.length;
        let socketsWhileDown = 0;
        let rounds = 0;
        server = await restartOnSamePort(server, ENV, {
          whileDown: async () => {
            await expect.poll(() => attr('connection', 'data-state'), { timeout: 15_000 }).toBe('reconnecting');
            // Several retry rounds against the closed port ("reconnecting (attempt N)…").
            rounds = await waitFor(
              async () => {
                const attempt = Number(/attempt (\d+)/.exec(await text('connection'))?.[1] ?? 0);
                return attempt >= 4 && attempt;
              },
              { timeoutMs: 20_000, intervalMs: 50, what: 'four retry rounds' },
            );
            socketsWhileDown = sockets.length - socketsBefore;
          },
        });
        // All five subscriptions retry together on one socket: one connection attempt per round, not five.
        expect(socketsWhileDown).toBeLessThanOrEqual(rounds + 1);
        await expect.poll(() => attr('connection', 'data-state'), { timeout: 20_000 }).toBe('live');
        // Fresh metrics from the new server.
        await expect.poll(async () => (await attr('tps', 'data-timestamp')) ?? '', { timeout: 15_000 }).toMatch(/.+/);
        await waitFor(async () => ((await attr('tps', 'data-timestamp')) ?? '') > restartedAt, {
          timeoutMs: 15_000,
          what: 'a metrics snapshot from after the restart',
        });
        // The new server's history is new: the page says so instead of hiding it.
        const log = page.getByTestId('log');
        await expect.poll(() => log.innerText(), { timeout: 15_000 }).toContain('transactions: REPLAY_GAP');
        // One REPLAY_GAP per stream, and the feed marks where its history was cut.
        await expect.poll(() => log.locator('li.gap').count()).toBe(5);
        await expect.poll(() => page.locator('[data-testid="transactions"] tbody tr.gap').count()).toBe(1);
        // The FAILED filter is still applied on the server: new rows from the new history, all FAILED.
        await waitFor(async () => (await rowSeqs()).some((seq) => seq < newestFailed), {
          timeoutMs: 20_000,
          what: 'FAILED transactions from the restarted server (its seqs start again)',
        });
        expect(new Set(await rowStatuses())).toEqual(new Set(['FAILED']));
        await expect.poll(async () => Number(await text('validators-total')), { timeout: 10_000 }).toBe(21);
        const roundAfter = Number(await text('round'));
        await expect.poll(async () => Number(await text('round')), { timeout: 10_000 }).not.toBe(roundAfter);

        expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker), 'no reload').toBe('same page');
        expect(navigations, 'one navigation: the first load').toBe(1);
        expect(sockets.length, 'a new WebSocket after the restart').toBeGreaterThanOrEqual(2);
        expect(new Set(sockets)).toEqual(new Set([server.ws('/graphql')]));
        await page.screenshot({ path: SCREENSHOT.replace('.png', '-after-restart.png'), fullPage: true });

        expect(offServer, 'requests that left the test server').toEqual([]);
        // While the server was down chromium reports the refused WebSocket connections; nothing else.
        const unexpected = consoleErrors.filter((e) => !/WebSocket connection to .* failed/.test(e.text));
        expect(unexpected, 'console errors').toEqual([]);
      },
      PAGE_TIMEOUT_MS * 3,
    );
  },
);
