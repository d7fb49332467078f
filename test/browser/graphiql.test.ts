import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { browserSkipReason, offlineContext, useBrowser } from '../helpers/browser.ts';
import { useTestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const SCREENSHOT = fileURLToPath(new URL('../../test-output/graphiql.png', import.meta.url));
// GraphiQL and Monaco are ~9 MB of script to parse; on a busy 2-core machine that takes seconds.
const PAGE_TIMEOUT_MS = 90_000;

const skipReason = browserSkipReason();

describe.skipIf(skipReason !== undefined)(
  `GraphiQL in headless chromium${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const server = useTestServer({ METRICS_INTERVAL_MS: '200' });
    // Closed before the server (fixtures close in reverse order): its WebSocket ends, so the server drains at once.
    const browser = useBrowser(PAGE_TIMEOUT_MS);

    test(
      'works offline and streams both default operations (metrics; filtered, resumable transactions) over WebSocket',
      async () => {
        const origin = new URL(server.http()).host; // 127.0.0.1:<port>
        // Only the server may be reached: anything else (a CDN, fonts, telemetry) is aborted and recorded.
        const { context, offServer } = await offlineContext(browser, origin, { width: 1440, height: 900 });

        const page = await context.newPage();
        const consoleErrors: string[] = [];
        page.on('console', (message) => {
          if (message.type() === 'error') consoleErrors.push(message.text());
        });
        page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));

        const sockets: { url: string; nextFrames: number }[] = [];
        page.on('websocket', (ws) => {
          const socket = { url: ws.url(), nextFrames: 0 };
          sockets.push(socket);
          ws.on('framereceived', ({ payload }) => {
            if (typeof payload === 'string' && payload.includes('"type":"next"')) socket.nextFrames += 1;
          });
        });
        const sseRequests: string[] = [];
        page.on('request', (request) => {
          if ((request.headers()['accept'] ?? '').includes('text/event-stream')) sseRequests.push(request.url());
        });

        // What the server sent over the wire (compressed bodies). (The browser's cache is not exercised here:
        // request routing, which keeps the page offline, disables it; static-assets.test.ts checks the headers.)
        let transferred = 0;
        page.on('requestfinished', (request) => {
          request.sizes().then(
            (sizes) => (transferred += sizes.responseBodySize),
            () => {}, // the page closed first
          );
        });

        // GraphiQL 5's editors are Monaco: text lives in `.view-lines`, with spaces rendered as U+00A0.
        const editorText = async (editor: string) => (await page.locator(`${editor} .view-lines`).innerText()).replace(/\u00a0/g, ' ');

        await page.goto(server.http('/graphql'), { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
        expect(await page.title()).toBe('aurigraph-realtime GraphiQL');

        // GraphiQL renders, with our default document in the (Monaco) query editor.
        await expect.poll(() => editorText('.graphiql-query-editor'), { timeout: PAGE_TIMEOUT_MS }).toContain('subscription LiveMetrics');

        const execute = page.locator('.graphiql-execute-button');
        // The default document has two operations, so ▶ opens a menu of them.
        await execute.click({ timeout: PAGE_TIMEOUT_MS });
        await page.getByRole('menuitem', { name: 'LiveMetrics' }).click({ timeout: 10_000 });
        // While a subscription runs the same button becomes "Stop query".
        await expect.poll(() => execute.getAttribute('aria-label'), { timeout: 10_000 }).toMatch(/^Stop query/);

        // GraphiQL shows the latest result only: watch it change at least twice.
        const timestamps: string[] = [];
        let lastText = '';
        await waitFor(
          async () => {
            lastText = await editorText('.graphiql-response');
            const timestamp = /"timestamp":\s*"([^"]+)"/.exec(lastText)?.[1];
            if (timestamp !== undefined && timestamps.at(-1) !== timestamp) timestamps.push(timestamp);
            return timestamps.length >= 3;
          },
          { timeoutMs: 20_000, intervalMs: 50, what: 'three different metrics timestamps in the response pane' },
        );
        expect(lastText).toContain('"metrics"');
        expect(lastText).toContain('"tps"');
        expect(lastText).not.toContain('"errors"');
        for (const timestamp of timestamps) expect(timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect([...timestamps].sort()).toEqual(timestamps);

        // The page, GraphiQL, Monaco and its workers, compressed: well under 3 MB.
        expect(transferred).toBeGreaterThan(100_000);
        expect(transferred).toBeLessThan(3_000_000);

        await mkdir(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT });

        // The second operation: a server-side filter (only FAILED transactions) with a resumable cursor.
        await execute.click();
        await expect.poll(() => execute.getAttribute('aria-label'), { timeout: 10_000 }).toMatch(/^Execute query/);
        await execute.click();
        await page.getByRole('menuitem', { name: 'FailedTransactions' }).click({ timeout: 10_000 });
        const failed = await waitFor(
          async () => {
            const text = await editorText('.graphiql-response');
            return text.includes('"transactions"') && text;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: 'a FailedTransactions result in the response pane' },
        );
        expect(failed).toContain('"status": "FAILED"');
        expect(failed).toMatch(/"cursor":\s*"[^"]+"/);
        expect(failed).not.toContain('"errors"');
        await execute.click();

        // The results came over graphql-ws on the server's own port, not SSE.
        const graphqlSockets = sockets.filter((socket) => socket.url === server?.ws('/graphql'));
        expect(graphqlSockets.length).toBeGreaterThanOrEqual(1);
        expect(graphqlSockets.reduce((sum, socket) => sum + socket.nextFrames, 0)).toBeGreaterThanOrEqual(3);
        expect(sseRequests).toEqual([]);

        expect(offServer, 'requests that left the test server').toEqual([]);
        expect(consoleErrors, 'console errors').toEqual([]);
      },
      PAGE_TIMEOUT_MS * 2,
    );
  },
);
