import { z } from 'zod';
import { addressSchema, decimalStringSchema, hashSchema, nonNegativeIntSchema, timestampSchema } from './common.ts';

export const TRANSACTION_STATUSES = ['PENDING', 'SUCCESS', 'FAILED'] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

export const transactionEventSchema = z.strictObject({
  timestamp: timestampSchema,
  txHash: hashSchema,
  from: addressSchema,
  to: addressSchema,
  value: decimalStringSchema,
  status: z.enum(TRANSACTION_STATUSES),
  gasUsed: nonNegativeIntSchema,
});
export type TransactionEvent = z.infer<typeof transactionEventSchema>;

export const TRANSACTION_FIELDS = ['timestamp', 'txHash', 'from', 'to', 'value', 'status', 'gasUsed'] as const;

export function isFinished(status: TransactionStatus): boolean {
  return status !== 'PENDING';
}
