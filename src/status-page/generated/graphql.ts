/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** PENDING while a proposed block collects votes; COMMITTED once it is final. */
export type ConsensusState =
  | 'COMMITTED'
  | 'PENDING';

/** Fields combine with AND; values within a list with OR; an empty list matches nothing. Addresses compare case-insensitively. */
export type TransactionFilter = {
  /** Any of these addresses on either side. */
  address?: Array<string> | null | undefined;
  /** Sent by any of these addresses. */
  from?: Array<string> | null | undefined;
  /** Value at most this (decimal string, compared as a big integer). */
  maxValue?: string | null | undefined;
  /** Value at least this (decimal string, compared as a big integer). */
  minValue?: string | null | undefined;
  /** Any of these statuses. */
  status?: Array<TransactionStatus> | null | undefined;
  /** Sent to any of these addresses. */
  to?: Array<string> | null | undefined;
};

/** Lifecycle of a transaction: PENDING when submitted, then exactly one of SUCCESS or FAILED. */
export type TransactionStatus =
  | 'FAILED'
  | 'PENDING'
  | 'SUCCESS';

/** ACTIVE validators sign blocks; INACTIVE ones missed too many; JAILED ones were slashed for a while. */
export type ValidatorStatus =
  | 'ACTIVE'
  | 'INACTIVE'
  | 'JAILED';

export type StatusMetricsSubscriptionVariables = Exact<{
  replay?: number | null | undefined;
}>;


export type StatusMetricsSubscription = { metrics: { timestamp: string, tps: number, errorRate: number, connections: number } };

export type StatusConsensusSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type StatusConsensusSubscription = { consensus: { seq: number, leader: string, epoch: number, round: number, term: number, state: ConsensusState } };

export type StatusValidatorSetQueryVariables = Exact<{ [key: string]: never; }>;


export type StatusValidatorSetQuery = { validatorSet: Array<{ seq: number, validator: string, status: ValidatorStatus, votingPower: number, uptime: number, lastBlockProposed: number }> };

export type StatusValidatorsSubscriptionVariables = Exact<{
  replay?: number | null | undefined;
}>;


export type StatusValidatorsSubscription = { validators: { seq: number, validator: string, status: ValidatorStatus, votingPower: number, uptime: number, lastBlockProposed: number } };

export type StatusPeersQueryVariables = Exact<{ [key: string]: never; }>;


export type StatusPeersQuery = { peers: Array<{ seq: number, peerId: string, ip: string, latency: number, version: string, connected: boolean }> };

export type StatusNetworkSubscriptionVariables = Exact<{
  replay?: number | null | undefined;
}>;


export type StatusNetworkSubscription = { network: { seq: number, peerId: string, ip: string, latency: number, version: string, connected: boolean } };

export type StatusTransactionsSubscriptionVariables = Exact<{
  filter?: TransactionFilter | null | undefined;
  replay?: number | null | undefined;
}>;


export type StatusTransactionsSubscription = { transactions: { seq: number, timestamp: string, txHash: string, from: string, to: string, value: string, status: TransactionStatus, gasUsed: number } };


export const StatusMetricsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"StatusMetrics"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"replay"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"metrics"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"replay"},"value":{"kind":"Variable","name":{"kind":"Name","value":"replay"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"timestamp"}},{"kind":"Field","name":{"kind":"Name","value":"tps"}},{"kind":"Field","name":{"kind":"Name","value":"errorRate"}},{"kind":"Field","name":{"kind":"Name","value":"connections"}}]}}]}}]} as unknown as DocumentNode<StatusMetricsSubscription, StatusMetricsSubscriptionVariables>;
export const StatusConsensusDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"StatusConsensus"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"consensus"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"replay"},"value":{"kind":"IntValue","value":"1"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"seq"}},{"kind":"Field","name":{"kind":"Name","value":"leader"}},{"kind":"Field","name":{"kind":"Name","value":"epoch"}},{"kind":"Field","name":{"kind":"Name","value":"round"}},{"kind":"Field","name":{"kind":"Name","value":"term"}},{"kind":"Field","name":{"kind":"Name","value":"state"}}]}}]}}]} as unknown as DocumentNode<StatusConsensusSubscription, StatusConsensusSubscriptionVariables>;
export const StatusValidatorSetDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"StatusValidatorSet"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"validatorSet"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"seq"}},{"kind":"Field","name":{"kind":"Name","value":"validator"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"votingPower"}},{"kind":"Field","name":{"kind":"Name","value":"uptime"}},{"kind":"Field","name":{"kind":"Name","value":"lastBlockProposed"}}]}}]}}]} as unknown as DocumentNode<StatusValidatorSetQuery, StatusValidatorSetQueryVariables>;
export const StatusValidatorsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"StatusValidators"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"replay"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"validators"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"replay"},"value":{"kind":"Variable","name":{"kind":"Name","value":"replay"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"seq"}},{"kind":"Field","name":{"kind":"Name","value":"validator"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"votingPower"}},{"kind":"Field","name":{"kind":"Name","value":"uptime"}},{"kind":"Field","name":{"kind":"Name","value":"lastBlockProposed"}}]}}]}}]} as unknown as DocumentNode<StatusValidatorsSubscription, StatusValidatorsSubscriptionVariables>;
export const StatusPeersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"StatusPeers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"peers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"seq"}},{"kind":"Field","name":{"kind":"Name","value":"peerId"}},{"kind":"Field","name":{"kind":"Name","value":"ip"}},{"kind":"Field","name":{"kind":"Name","value":"latency"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"connected"}}]}}]}}]} as unknown as DocumentNode<StatusPeersQuery, StatusPeersQueryVariables>;
export const StatusNetworkDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"StatusNetwork"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"replay"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"network"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"replay"},"value":{"kind":"Variable","name":{"kind":"Name","value":"replay"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"seq"}},{"kind":"Field","name":{"kind":"Name","value":"peerId"}},{"kind":"Field","name":{"kind":"Name","value":"ip"}},{"kind":"Field","name":{"kind":"Name","value":"latency"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"connected"}}]}}]}}]} as unknown as DocumentNode<StatusNetworkSubscription, StatusNetworkSubscriptionVariables>;
export const StatusTransactionsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"StatusTransactions"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"TransactionFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"replay"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"transactions"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"replay"},"value":{"kind":"Variable","name":{"kind":"Name","value":"replay"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"seq"}},{"kind":"Field","name":{"kind":"Name","value":"timestamp"}},{"kind":"Field","name":{"kind":"Name","value":"txHash"}},{"kind":"Field","name":{"kind":"Name","value":"from"}},{"kind":"Field","name":{"kind":"Name","value":"to"}},{"kind":"Field","name":{"kind":"Name","value":"value"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"gasUsed"}}]}}]}}]} as unknown as DocumentNode<StatusTransactionsSubscription, StatusTransactionsSubscriptionVariables>;