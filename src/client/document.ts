import {
  getOperationAST,
  Kind,
  parse,
  print,
  visit,
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type VariableDefinitionNode,
} from 'graphql';

/**
 * How one subscription document resumes. The kit rewrites the document once so
 * that its stream field reads its `after` argument from a variable; the
 * application's documents (codegen's typed documents included) need no
 * `$after` of their own.
 */
export interface ResumePlan {
  /** The document to subscribe with first: the original plus `after: $<afterVariable>`. */
  readonly query: string;
  /**
   * The document to resubscribe with once a cursor is known. Same as `query`
   * unless the field had a literal `replay:` (the server refuses `after` and
   * `replay` together), which is dropped here.
   */
  readonly resumeQuery: string;
  /** The variable carrying the cursor. */
  readonly afterVariable: string;
  /** A variable given to `replay`, set to null on resume. */
  readonly replayVariable: string | undefined;
  /** Initial values moved out of literals (`after: "…"` became a variable). */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** The stream field's response key (its alias or name): where `seq` and `cursor` sit in `data`. */
  readonly responseKey: string;
}

/** Thrown for a subscription the kit cannot make resumable (e.g. a root field behind a fragment spread). */
export class ResumePlanError extends Error {
  override readonly name = 'ResumePlanError';
}

const AFTER = 'after';
const REPLAY = 'replay';

/**
 * Plans resumption for a subscription document; undefined for queries,
 * mutations and documents graphql-js cannot parse (those pass through
 * untouched and the server reports their errors).
 */
export function planResume(query: string | DocumentNode, operationName?: string | null): ResumePlan | undefined {
  let document: DocumentNode;
  try {
    document = typeof query === 'string' ? parse(query) : query;
  } catch {
    return undefined;
  }
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation || operation.operation !== 'subscription') return undefined;
  const field = rootField(operation.selectionSet);
  if (!field) {
    throw new ResumePlanError(
      `subscription ${operation.name?.value ?? '(anonymous)'}: the stream field must be selected directly ` +
        '(not through a fragment spread) for the client kit to add `after:`',
    );
  }

  const declared = new Set((operation.variableDefinitions ?? []).map((d) => d.variable.name.value));
  const defaults: Record<string, unknown> = {};
  const afterArg = field.arguments?.find((a) => a.name.value === AFTER);
  const replayArg = field.arguments?.find((a) => a.name.value === REPLAY);

  let afterVariable: string;
  let addDefinition: VariableDefinitionNode | undefined;
  if (afterArg?.value.kind === Kind.VARIABLE) {
    afterVariable = afterArg.value.name.value;
  } else {
    afterVariable = freeName(AFTER, declared);
    if (afterArg?.value.kind === Kind.STRING) defaults[afterVariable] = afterArg.value.value;
    addDefinition = {
      kind: Kind.VARIABLE_DEFINITION,
      variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: afterVariable } },
      type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'String' } },
    };
  }
  const afterNode: ArgumentNode = {
    kind: Kind.ARGUMENT,
    name: { kind: Kind.NAME, value: AFTER },
    value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: afterVariable } },
  };

  const rewrite = (dropReplay: boolean): string =>
    print(
      visit(document, {
        OperationDefinition(node) {
          if (node !== operation || !addDefinition) return undefined;
          return { ...node, variableDefinitions: [...(node.variableDefinitions ?? []), addDefinition] } satisfies OperationDefinitionNode;
        },
        Field(node) {
          if (node !== field) return undefined;
          const kept = (node.arguments ?? [])
            .filter((a) => !(dropReplay && a.name.value === REPLAY))
            .map((a) => (a.name.value === AFTER ? afterNode : a));
          return { ...node, arguments: afterArg ? kept : [...kept, afterNode] } satisfies FieldNode;
        },
      }),
    );

  const query0 = rewrite(false);
  const literalReplay = replayArg !== undefined && replayArg.value.kind !== Kind.VARIABLE;
  return {
    query: query0,
    resumeQuery: literalReplay ? rewrite(true) : query0,
    afterVariable,
    replayVariable: replayArg?.value.kind === Kind.VARIABLE ? replayArg.value.name.value : undefined,
    defaults,
    responseKey: field.alias?.value ?? field.name.value,
  };
}

/** The one stream field of a subscription (graphql allows exactly one root field), looking through inline fragments. */
function rootField(selectionSet: SelectionSetNode): FieldNode | undefined {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== '__typename') return selection;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const inner = rootField(selection.selectionSet);
      if (inner) return inner;
    }
  }
  return undefined;
}

function freeName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 1; ; i++) if (!taken.has(`${base}${i}`)) return `${base}${i}`;
}

/** Plans are cached by document text: apps subscribe with a handful of documents, many times. */
export function createPlanCache(limit = 200): (query: string, operationName?: string | null) => ResumePlan | undefined {
  const cache = new Map<string, ResumePlan | undefined>();
  return (query, operationName) => {
    const key = `${operationName ?? ''}\u0000${query}`;
    if (cache.has(key)) return cache.get(key);
    const plan = planResume(query, operationName);
    if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
    cache.set(key, plan);
    return plan;
  };
}
