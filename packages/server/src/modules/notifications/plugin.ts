import type { FastifyInstance } from 'fastify';
import { createSmtpTransport } from '../../mail/transport.js';
import { Mailer } from './service.js';

/** Decorates `app.mailer` (outbox + SMTP when SMTP_URL is set) and starts its delivery worker. Root instance only. */
export function registerNotifications(app: FastifyInstance): void {
  const transport = app.env.SMTP_URL ? createSmtpTransport(app.env.SMTP_URL) : undefined;
  const mailer = new Mailer({
    db: app.db,
    jobs: app.stores.jobs,
    from: app.env.MAIL_FROM,
    transport,
    log: app.log,
  });
  mailer.registerWorker();
  app.decorate('mailer', mailer);
  app.addHook('onClose', async () => transport?.close());
}
