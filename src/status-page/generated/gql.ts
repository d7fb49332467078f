/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "subscription StatusMetrics($replay: Int) {\n  metrics(replay: $replay) {\n    timestamp\n    tps\n    errorRate\n    connections\n  }\n}\n\nsubscription StatusConsensus {\n  consensus(replay: 1) {\n    seq\n    leader\n    epoch\n    round\n    term\n    state\n  }\n}\n\nquery StatusValidatorSet {\n  validatorSet {\n    seq\n    validator\n    status\n    votingPower\n    uptime\n    lastBlockProposed\n  }\n}\n\nsubscription StatusValidators($replay: Int) {\n  validators(replay: $replay) {\n    seq\n    validator\n    status\n    votingPower\n    uptime\n    lastBlockProposed\n  }\n}\n\nquery StatusPeers {\n  peers {\n    seq\n    peerId\n    ip\n    latency\n    version\n    connected\n  }\n}\n\nsubscription StatusNetwork($replay: Int) {\n  network(replay: $replay) {\n    seq\n    peerId\n    ip\n    latency\n    version\n    connected\n  }\n}\n\nsubscription StatusTransactions($filter: TransactionFilter, $replay: Int) {\n  transactions(filter: $filter, replay: $replay) {\n    seq\n    timestamp\n    txHash\n    from\n    to\n    value\n    status\n    gasUsed\n  }\n}": typeof types.StatusMetricsDocument,
};
const documents: Documents = {
    "subscription StatusMetrics($replay: Int) {\n  metrics(replay: $replay) {\n    timestamp\n    tps\n    errorRate\n    connections\n  }\n}\n\nsubscription StatusConsensus {\n  consensus(replay: 1) {\n    seq\n    leader\n    epoch\n    round\n    term\n    state\n  }\n}\n\nquery StatusValidatorSet {\n  validatorSet {\n    seq\n    validator\n    status\n    votingPower\n    uptime\n    lastBlockProposed\n  }\n}\n\nsubscription StatusValidators($replay: Int) {\n  validators(replay: $replay) {\n    seq\n    validator\n    status\n    votingPower\n    uptime\n    lastBlockProposed\n  }\n}\n\nquery StatusPeers {\n  peers {\n    seq\n    peerId\n    ip\n    latency\n    version\n    connected\n  }\n}\n\nsubscription StatusNetwork($replay: Int) {\n  network(replay: $replay) {\n    seq\n    peerId\n    ip\n    latency\n    version\n    connected\n  }\n}\n\nsubscription StatusTransactions($filter: TransactionFilter, $replay: Int) {\n  transactions(filter: $filter, replay: $replay) {\n    seq\n    timestamp\n    txHash\n    from\n    to\n    value\n    status\n    gasUsed\n  }\n}": types.StatusMetricsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription StatusMetrics($replay: Int) {\n  metrics(replay: $replay) {\n    timestamp\n    tps\n    errorRate\n    connections\n  }\n}\n\nsubscription StatusConsensus {\n  consensus(replay: 1) {\n    seq\n    leader\n    epoch\n    round\n    term\n    state\n  }\n}\n\nquery StatusValidatorSet {\n  validatorSet {\n    seq\n    validator\n    status\n    votingPower\n    uptime\n    lastBlockProposed\n  }\n}\n\nsubscription StatusValidators($replay: Int) {\n  validators(replay: $replay) {\n    seq\n    validator\n    status\n    votingPower\n    uptime\n    lastBlockProposed\n  }\n}\n\nquery StatusPeers {\n  peers {\n    seq\n    peerId\n    ip\n    latency\n    version\n    connected\n  }\n}\n\nsubscription StatusNetwork($replay: Int) {\n  network(replay: $replay) {\n    seq\n    peerId\n    ip\n    latency\n    version\n    connected\n  }\n}\n\nsubscription StatusTransactions($filter: TransactionFilter, $replay: Int) {\n  transactions(filter: $filter, replay: $replay) {\n    seq\n    timestamp\n    txHash\n    from\n    to\n    value\n    status\n    gasUsed\n  }\n}"): (typeof documents)["subscription StatusMetrics($replay: Int) {\n  metrics(replay: $replay) {\n    timestamp\n    tps\n    errorRate\n    connections\n  }\n}\n\nsubscription StatusConsensus {\n  consensus(replay: 1) {\n    seq\n    leader\n    epoch\n    round\n    term\n    state\n  }\n}\n\nquery StatusValidatorSet {\n  validatorSet {\n    seq\n    validator\n    status\n    votingPower\n    uptime\n    lastBlockProposed\n  }\n}\n\nsubscription StatusValidators($replay: Int) {\n  validators(replay: $replay) {\n    seq\n    validator\n    status\n    votingPower\n    uptime\n    lastBlockProposed\n  }\n}\n\nquery StatusPeers {\n  peers {\n    seq\n    peerId\n    ip\n    latency\n    version\n    connected\n  }\n}\n\nsubscription StatusNetwork($replay: Int) {\n  network(replay: $replay) {\n    seq\n    peerId\n    ip\n    latency\n    version\n    connected\n  }\n}\n\nsubscription StatusTransactions($filter: TransactionFilter, $replay: Int) {\n  transactions(filter: $filter, replay: $replay) {\n    seq\n    timestamp\n    txHash\n    from\n    to\n    value\n    status\n    gasUsed\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;