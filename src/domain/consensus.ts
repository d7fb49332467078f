import { z } from 'zod';
import { addressSchema, nonNegativeIntSchema, ratioSchema, timestampSchema } from './common.ts';

export const CONSENSUS_STATES = ['PENDING', 'COMMITTED'] as const;
export type ConsensusState = (typeof CONSENSUS_STATES)[number];

export const consensusEventSchema = z.strictObject({
  timestamp: timestampSchema,
  /** Address of the validator leading this round. */
  leader: addressSchema,
  epoch: nonNegativeIntSchema,
  round: nonNegativeIntSchema,
  term: nonNegativeIntSchema,
  state: z.enum(CONSENSUS_STATES),
  performanceScore: ratioSchema,
  activeValidators: nonNegativeIntSchema,
});
export type ConsensusEvent = z.infer<typeof consensusEventSchema>;

export const CONSENSUS_FIELDS = [
  'timestamp',
  'leader',
  'epoch',
  'round',
  'term',
  'state',
  'performanceScore',
  'activeValidators',
] as const;
