// Every module's tables, gathered for Drizzle (queries and drizzle-kit). Modules own their tables;
// this file only lists them.
export * from '../modules/accounts/tables.js';
export * from '../modules/billing/tables.js';
export * from '../modules/gateway/tables.js';
export * from '../modules/notifications/tables.js';
export * from '../modules/organizations/tables.js';
export * from '../modules/payments/tables.js';
export * from '../modules/studio/tables.js';
