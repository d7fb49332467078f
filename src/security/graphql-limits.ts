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
  plugins.push(useClientErrorCodes());
  return plugins;
}

/** A copy of a GraphQL error with a code, unless it has one. */
function withCode(error: GraphQLError, code: string): GraphQLError {
  if (error.extensions['code']) return error;
  return new GraphQLError(error.message, {
    ...(error.nodes && { nodes: error.nodes }),
    ...(error.source && { source: error.source }),
    ...(error.positions && { positions: error.positions }),
    extensions: { ...error.extensions, code },
  });
}

/**
 * Gives syntax and validation errors their code (GRAPHQL_PARSE_FAILED,
 * GRAPHQL_VALIDATION_FAILED) where they are made, so every transport — yoga's
 * HTTP and the operation runner alike — reports a client mistake the same way.
 */
function useClientErrorCodes(): Plugin {
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (result instanceof GraphQLError) replaceParseResult(withCode(result, 'GRAPHQL_PARSE_FAILED'));
      };
    },
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED')));
      };
    },
  };
}
