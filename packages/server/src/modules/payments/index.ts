import type { FastifyInstance } from 'fastify';
import { paymentsAdminRoutes } from './admin-routes.js';
import { paypalWebhookRoutes } from './paypal-webhook.js';
import { type PaymentsPluginOptions, registerPayments } from './plugin.js';
import { paymentsRoutes } from './routes.js';
import { stripeWebhookRoutes } from './stripe-webhook.js';
import { chargilyWebhookRoutes } from './webhooks.js';

export type { PaymentsConfig } from './config.js';

/** The whole payments module: context, buyer and admin routes, and one raw-body scope per provider webhook. */
export async function registerPaymentsModule(
  app: FastifyInstance,
  options: PaymentsPluginOptions = {},
): Promise<void> {
  registerPayments(app, options);
  await app.register(paymentsRoutes);
  await app.register(paymentsAdminRoutes);
  await app.register(chargilyWebhookRoutes);
  await app.register(stripeWebhookRoutes);
  await app.register(paypalWebhookRoutes);
}
