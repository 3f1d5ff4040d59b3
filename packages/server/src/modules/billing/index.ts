// The billing module's service API: what other modules (the /v1 gateway, payments, commerce, admin) call.
// They never touch billing's tables directly.
export { LedgerBatcher, type LedgerBatcherOptions } from './batcher.js';
export {
  budgetLimits,
  getUserBudget,
  MAX_BUDGET_CREDITS,
  MAX_DAILY_REQUESTS,
  setUserBudget,
  tighterLimits,
  USER_BUDGETS_CHANNEL,
  type UserBudget,
  UserBudgetCache,
} from './budgets.js';
export { displayCredits, parseCreditRates } from './display.js';
export {
  type Balance,
  DEFAULT_HOLD_TTL_SECONDS,
  type EntryReferences,
  ensureWallet,
  expireHolds,
  getBalance,
  getWallet,
  type HoldCreditsOptions,
  holdCredits,
  type LedgerMismatch,
  MAX_CREDITS_PER_ENTRY,
  type PostEntryOptions,
  type PostedEntry,
  postEntry,
  releaseHold,
  type SettleHoldOptions,
  type SettleResult,
  settleHold,
  verifyLedger,
  type Wallet,
} from './ledger.js';
export {
  createLedgerMetering,
  type LedgerMeteringOptions,
  type MeteredCharge,
  type Payer,
} from './metering.js';
export { type Period, type PeriodUnit, periodOf } from './periods.js';
export {
  DEFAULT_PLAN,
  getPlan,
  getWalletPlan,
  type Plan,
  type PlanFeature,
  planAllowsModel,
  planHasFeature,
  plans,
  planWalletLimits,
  renewPlans,
  setWalletPlan,
} from './plans.js';
export { type BillingContext, type MeteringHooks, registerBilling } from './plugin.js';
export {
  loadPriceBook,
  PriceBook,
  PriceBookCache,
  type PricedAmount,
  type PriceRow,
  priceItem,
  setPrice,
  syncPriceBook,
  type TokenUsage,
} from './prices.js';
export {
  checkQuota,
  consumeQuota,
  type QuotaLimits,
  type QuotaReservation,
  type QuotaStatus,
  type QuotaSubject,
  releaseQuota,
  settleQuota,
} from './quotas.js';
export { exportLedgerCsv, listLedgerEntries, summariseUsage } from './statements.js';
export { type LedgerEntryKind, ledgerEntryKinds, type WalletOwnerType } from './tables.js';
export { type TransferCreditsOptions, type TransferResult, transferCredits } from './transfers.js';
