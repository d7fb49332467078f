import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';

/**
 * Operation limits (graphql-armor) and the introspection switch, as envelop
 * plugins. They hook parse and validate, which every transport runs through
 * yoga's envelope — WebSocket included (graphql-ws.ts calls the enveloped
 * parse/validate). yoga's stock introspection plugin decides per HTTP request
 * and so never applies on WebSocket; this one applies to every validation.
 */
export function graphqlLimitPlugins(config: Config['graphql']): Plugin[] {
  const plugins: Plugin[] = [
    {
      // Checked before parsing: parsed documents (and their errors) are cached, so size must be bounded first.
      onParse({ params }) {
        const source = typeof params.source === 'string' ? params.source : params.source.body;
        if (source.length > config.maxDocumentBytes) {
          throw new GraphQLError(`documents are limited to ${config.maxDocumentBytes} characters`, {
            extensions: { code: 'BAD_REQUEST' },
          });
        }
      },
    },
    maxTokensPlugin({ n: config.maxTokens }) as Plugin,
    maxDepthPlugin({ n: config.maxDepth, flattenFragments: true }) as Plugin,
    maxAliasesPlugin({ n: config.maxAliases }) as Plugin,
  ];
  if (!config.introspection) {
    plugins.push({
      onValidate({ addValidationRule }) {
        addValidationRule(NoSchemaIntrospectionCustomRule);
      },
    });
  }
  return plugins;
}
