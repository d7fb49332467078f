/**
 * The resumable client kit on its own: `npx tsx examples/client/bare.ts` against a running server
 * (`npm start`). Stop and start the server while it runs: it reconnects, reports the gap (a restarted
 * server has a new history) and goes on; a dropped connection resumes with nothing lost.
 */
import { print } from 'graphql';
import WebSocket from 'ws';
import { createResumableClient } from 'aurigraph-realtime/client';
import { LiveTransactionsDocument, type LiveTransactionsSubscription } from '../generated/graphql.ts';

const url = process.env['URL'] ?? 'ws://localhost:9003/graphql';
const kit = createResumableClient({
  url,
  webSocketImpl: WebSocket,
  ...(process.env['TOKEN'] && { getToken: () => process.env['TOKEN'] }),
  onGap: ({ error, oldestCursor }) => console.warn(`gap: ${error.message} (continuing from ${oldestCursor})`),
  onRetry: ({ attempt, delayMs, reason }) => console.info(`reconnecting #${attempt} in ${delayMs} ms: ${reason}`),
});

let last = 0;
for await (const { data } of kit.iterate<LiveTransactionsSubscription>({ query: print(LiveTransactionsDocument) })) {
  if (!data) continue;
  const { seq, status, txHash } = data.transactions;
  if (last && seq !== last + 1) console.info(`(seq ${last} → ${seq})`);
  last = seq;
  console.log(seq, status, txHash);
}
