import type { FastifyInstance } from 'fastify';
import { registerAuthentication } from '../../plugins/authenticate.js';
import { registerNotifications } from '../notifications/plugin.js';
import { auditStaffChanges } from './audit.js';
import {
  PASSWORD_RESET_JOB,
  prepareTimingDummy,
  SIGN_UP_MAIL_JOB,
  sendPasswordReset,
  sendSignUpMail,
} from './auth-service.js';
import { type AccountsContext, accountsContext } from './context.js';
import { loadMasterKeyring, useMasterKeyring } from './master-keys.js';
import { eraseDueAccounts } from './privacy.js';
import type { Locale } from './tables.js';

/**
 * Everything accounts put on the root instance before routes: cookies, token keys and `authenticate`'s decorators,
 * the master keyring, the mailer, the audit of every staff change, and the background jobs behind sign-up and
 * password-reset emails.
 */
export async function registerAccounts(app: FastifyInstance): Promise<void> {
  await registerAuthentication(app);
  auditStaffChanges(app);
  const keyring = await loadMasterKeyring(app.db, app.env.MASTER_KEYS);
  useMasterKeyring(app.db, keyring);
  app.decorate('masterKeys', keyring);
  registerNotifications(app);
  let context: AccountsContext | undefined;
  const lazyContext = () => {
    context ??= accountsContext(app);
    return context;
  };
  app.stores.jobs.register<{ email: string; created: boolean; locale: Locale }>(SIGN_UP_MAIL_JOB, (data) =>
    sendSignUpMail(lazyContext(), data),
  );
  app.stores.jobs.register<{ email: string; ip: string | null; userAgent: string | null }>(
    PASSWORD_RESET_JOB,
    (data) => sendPasswordReset(lazyContext(), data),
  );

  // Accounts past their grace period are erased at start and then hourly; erasing twice is harmless.
  const sweep = () =>
    eraseDueAccounts(app.db, { dataDir: app.env.DATA_DIR, pubSub: app.stores.pubSub }).catch(
      (error: unknown) => app.log.error({ err: error }, 'erasing accounts due for deletion failed'),
    );
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    await prepareTimingDummy();
    void sweep();
    timer = setInterval(sweep, 3_600_000);
    timer.unref();
  });
  app.addHook('onClose', async () => clearInterval(timer));
}
