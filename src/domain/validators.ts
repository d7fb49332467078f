import { z } from 'zod';
import { addressSchema, nonNegativeIntSchema, percentSchema, timestampSchema } from './common.ts';

export const VALIDATOR_STATUSES = ['ACTIVE', 'INACTIVE', 'JAILED'] as const;
export type ValidatorStatus = (typeof VALIDATOR_STATUSES)[number];

export const validatorEventSchema = z.strictObject({
  timestamp: timestampSchema,
  /** The validator's address. */
  validator: addressSchema,
  status: z.enum(VALIDATOR_STATUSES),
  votingPower: z.number().finite().min(0),
  uptime: percentSchema,
  /** Height of the last block this validator proposed (0 if none yet). */
  lastBlockProposed: nonNegativeIntSchema,
});
export type ValidatorEvent = z.infer<typeof validatorEventSchema>;

export const VALIDATOR_FIELDS = ['timestamp', 'validator', 'status', 'votingPower', 'uptime', 'lastBlockProposed'] as const;
