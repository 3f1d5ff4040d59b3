import type { FastifyInstance } from 'fastify';
import { createOrganizationPayer } from './payer.js';
import { organizationRoutes } from './routes.js';

/**
 * Organisations: their routes, and the billing hook that makes an organisation's keys pay from its wallet.
 * Register after billing (it plugs into `app.billing`), before the app starts serving.
 */
export async function registerOrganizations(app: FastifyInstance): Promise<void> {
  const payer = createOrganizationPayer({ db: app.db, pubSub: app.stores.pubSub });
  const unsubscribe = await payer.start();
  app.addHook('onClose', async () => unsubscribe());
  app.billing.useMeteringHooks({ payerFor: (caller) => payer.payerFor(caller) });
  await app.register(organizationRoutes, { payer });
}
