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
    "subscription ConsensusRounds {\n  consensus {\n    timestamp\n    leader\n    epoch\n    round\n    term\n    state\n  }\n}": typeof types.ConsensusRoundsDocument,
    "query DashboardState($recent: Int! = 20) {\n  latestMetrics {\n    timestamp\n    tps\n    errorRate\n    connections\n  }\n  consensusState {\n    leader\n    epoch\n    round\n    term\n    state\n  }\n  validatorSet {\n    validator\n    status\n    votingPower\n    uptime\n  }\n  peers {\n    peerId\n    ip\n    latency\n  }\n  recentTransactions(limit: $recent) {\n    txHash\n    status\n    value\n  }\n}": typeof types.DashboardStateDocument,
    "subscription LiveMetrics {\n  metrics {\n    timestamp\n    tps\n    errorRate\n  }\n}\n\nsubscription FullMetrics {\n  metrics {\n    seq\n    cursor\n    timestamp\n    tps\n    cpu\n    memory\n    connections\n    errorRate\n  }\n}": typeof types.LiveMetricsDocument,
    "subscription PeerChurn {\n  network {\n    timestamp\n    peerId\n    connected\n    latency\n  }\n}": typeof types.PeerChurnDocument,
    "subscription FailedTransactions($after: String, $replay: Int) {\n  transactions(filter: {status: [FAILED]}, after: $after, replay: $replay) {\n    seq\n    cursor\n    timestamp\n    txHash\n    from\n    to\n    value\n    status\n  }\n}": typeof types.FailedTransactionsDocument,
    "subscription LiveTransactions {\n  transactions {\n    seq\n    cursor\n    timestamp\n    txHash\n    status\n    value\n  }\n}": typeof types.LiveTransactionsDocument,
    "subscription ValidatorChanges {\n  validators {\n    timestamp\n    validator\n    status\n    uptime\n  }\n}": typeof types.ValidatorChangesDocument,
};
const documents: Documents = {
    "subscription ConsensusRounds {\n  consensus {\n    timestamp\n    leader\n    epoch\n    round\n    term\n    state\n  }\n}": types.ConsensusRoundsDocument,
    "query DashboardState($recent: Int! = 20) {\n  latestMetrics {\n    timestamp\n    tps\n    errorRate\n    connections\n  }\n  consensusState {\n    leader\n    epoch\n    round\n    term\n    state\n  }\n  validatorSet {\n    validator\n    status\n    votingPower\n    uptime\n  }\n  peers {\n    peerId\n    ip\n    latency\n  }\n  recentTransactions(limit: $recent) {\n    txHash\n    status\n    value\n  }\n}": types.DashboardStateDocument,
    "subscription LiveMetrics {\n  metrics {\n    timestamp\n    tps\n    errorRate\n  }\n}\n\nsubscription FullMetrics {\n  metrics {\n    seq\n    cursor\n    timestamp\n    tps\n    cpu\n    memory\n    connections\n    errorRate\n  }\n}": types.LiveMetricsDocument,
    "subscription PeerChurn {\n  network {\n    timestamp\n    peerId\n    connected\n    latency\n  }\n}": types.PeerChurnDocument,
    "subscription FailedTransactions($after: String, $replay: Int) {\n  transactions(filter: {status: [FAILED]}, after: $after, replay: $replay) {\n    seq\n    cursor\n    timestamp\n    txHash\n    from\n    to\n    value\n    status\n  }\n}": types.FailedTransactionsDocument,
    "subscription LiveTransactions {\n  transactions {\n    seq\n    cursor\n    timestamp\n    txHash\n    status\n    value\n  }\n}": types.LiveTransactionsDocument,
    "subscription ValidatorChanges {\n  validators {\n    timestamp\n    validator\n    status\n    uptime\n  }\n}": types.ValidatorChangesDocument,
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
export function graphql(source: "subscription ConsensusRounds {\n  consensus {\n    timestamp\n    leader\n    epoch\n    round\n    term\n    state\n  }\n}"): (typeof documents)["subscription ConsensusRounds {\n  consensus {\n    timestamp\n    leader\n    epoch\n    round\n    term\n    state\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query DashboardState($recent: Int! = 20) {\n  latestMetrics {\n    timestamp\n    tps\n    errorRate\n    connections\n  }\n  consensusState {\n    leader\n    epoch\n    round\n    term\n    state\n  }\n  validatorSet {\n    validator\n    status\n    votingPower\n    uptime\n  }\n  peers {\n    peerId\n    ip\n    latency\n  }\n  recentTransactions(limit: $recent) {\n    txHash\n    status\n    value\n  }\n}"): (typeof documents)["query DashboardState($recent: Int! = 20) {\n  latestMetrics {\n    timestamp\n    tps\n    errorRate\n    connections\n  }\n  consensusState {\n    leader\n    epoch\n    round\n    term\n    state\n  }\n  validatorSet {\n    validator\n    status\n    votingPower\n    uptime\n  }\n  peers {\n    peerId\n    ip\n    latency\n  }\n  recentTransactions(limit: $recent) {\n    txHash\n    status\n    value\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription LiveMetrics {\n  metrics {\n    timestamp\n    tps\n    errorRate\n  }\n}\n\nsubscription FullMetrics {\n  metrics {\n    seq\n    cursor\n    timestamp\n    tps\n    cpu\n    memory\n    connections\n    errorRate\n  }\n}"): (typeof documents)["subscription LiveMetrics {\n  metrics {\n    timestamp\n    tps\n    errorRate\n  }\n}\n\nsubscription FullMetrics {\n  metrics {\n    seq\n    cursor\n    timestamp\n    tps\n    cpu\n    memory\n    connections\n    errorRate\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription PeerChurn {\n  network {\n    timestamp\n    peerId\n    connected\n    latency\n  }\n}"): (typeof documents)["subscription PeerChurn {\n  network {\n    timestamp\n    peerId\n    connected\n    latency\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription FailedTransactions($after: String, $replay: Int) {\n  transactions(filter: {status: [FAILED]}, after: $after, replay: $replay) {\n    seq\n    cursor\n    timestamp\n    txHash\n    from\n    to\n    value\n    status\n  }\n}"): (typeof documents)["subscription FailedTransactions($after: String, $replay: Int) {\n  transactions(filter: {status: [FAILED]}, after: $after, replay: $replay) {\n    seq\n    cursor\n    timestamp\n    txHash\n    from\n    to\n    value\n    status\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription LiveTransactions {\n  transactions {\n    seq\n    cursor\n    timestamp\n    txHash\n    status\n    value\n  }\n}"): (typeof documents)["subscription LiveTransactions {\n  transactions {\n    seq\n    cursor\n    timestamp\n    txHash\n    status\n    value\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription ValidatorChanges {\n  validators {\n    timestamp\n    validator\n    status\n    uptime\n  }\n}"): (typeof documents)["subscription ValidatorChanges {\n  validators {\n    timestamp\n    validator\n    status\n    uptime\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;