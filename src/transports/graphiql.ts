import { createRequire } from 'node:module';
import type { Asset } from './http/assets.ts';

const require = createRequire(import.meta.url);
/** The GraphiQL build's version: part of every asset URL, so browsers can keep them for good. */
const VERSION = (require('@graphql-yoga/render-graphiql/package.json') as { version: string }).version;
const BASE = `/graphiql/${VERSION}`;

/** yoga's GraphiQL build (React, Monaco and its workers), loaded on the first request only: it is 9 MB of text. */
const build = () => import('@graphql-yoga/render-graphiql/graphiql');

const worker = async (name: 'editorWorkerService' | 'jsonWorker' | 'graphqlWorker') => (await build())[name];

/** JSON inside a <script>: `<` escaped so no string in it can close the element. */
const inScript = (value: unknown) => JSON.stringify(value).replaceAll('<', '\\u003c');

function page(options: { title: string; defaultQuery: string; endpoint: string }): string {
  const opts = { title: options.title, defaultQuery: options.defaultQuery, endpoint: options.endpoint, subscriptionsProtocol: 'WS' };
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${options.title}</title>
    <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="${BASE}/graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>
      self['MonacoEnvironment'] = {
        globalAPI: false,
        getWorkerUrl: function (moduleId, label) {
          return ${inScript({ editorWorkerService: `${BASE}/editor.worker.js`, json: `${BASE}/json.worker.js`, graphql: `${BASE}/graphql.worker.js` })}[label];
        },
      };
    </script>
    <script src="${BASE}/graphiql.js"></script>
    <script>
      YogaGraphiQL.renderYogaGraphiQL(window.document.querySelector('#root'), ${inScript(opts)});
    </script>
  </body>
</html>
`;
}

/**
 * GraphiQL as a small page and separate assets instead of one 9 MB document:
 * the page revalidates (ETag), the assets carry GraphiQL's version in their
 * URL and are cached for good, and everything goes out compressed (brotli or
 * gzip) by the asset routes — about 2 MB on the first visit, a few hundred
 * bytes after. Still served by this server alone: it works offline.
 * The icon is the site's own (/favicon.svg, from the status page's assets).
 */
export function graphiqlAssets(options: { path: string; title: string; defaultQuery: string }): Asset[] {
  const js = 'text/javascript; charset=utf-8';
  return [
    {
      path: options.path,
      contentType: 'text/html; charset=utf-8',
      // Only a browser asking for the page itself; anything that could run an operation goes to the GraphQL routes.
      accepts: ({ request }) => {
        const accept = request.headers.accept ?? '';
        return accept.includes('text/html') && !/event-stream|json|multipart/.test(accept);
      },
      load: async () => page({ title: options.title, defaultQuery: options.defaultQuery, endpoint: options.path }),
    },
    { path: `${BASE}/graphiql.js`, contentType: js, immutable: true, load: async () => (await build()).js },
    { path: `${BASE}/graphiql.css`, contentType: 'text/css; charset=utf-8', immutable: true, load: async () => (await build()).css },
    { path: `${BASE}/editor.worker.js`, contentType: js, immutable: true, load: () => worker('editorWorkerService') },
    { path: `${BASE}/json.worker.js`, contentType: js, immutable: true, load: () => worker('jsonWorker') },
    { path: `${BASE}/graphql.worker.js`, contentType: js, immutable: true, load: () => worker('graphqlWorker') },
  ];
}
