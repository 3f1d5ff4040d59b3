import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { runMigrations } from '../../db/migrate.js';
import { describeMigration } from '../../testing/migrations.js';
import { queryRows } from '../billing/sql.js';

describeMigration('0010_payments_charged_back', (connection) => {
  it('moves what chargeback events took out of refunded_amount into charged_back_amount', async () => {
    const db = connection().db;
    // Rows as the code before it left them: chargebacks added to refunded_amount, each with a `chargeback` event.
    const intent = async (refunded: number, status: string) => {
      const id = randomUUID();
      await db.execute(sql`insert into payment_intents
          (id, user_id, wallet_id, purpose, purpose_ref, credits, provider, currency, amount, status,
           refunded_amount, credits_reversed)
          values (${id}, ${randomUUID()}, ${randomUUID()}, 'credit_pack', 'pro', 1000000, 'stripe', 'EUR', 6000,
           ${status}, ${refunded}, 0)`);
      return id;
    };
    const chargeback = (intentId: string, chargedBack: number) =>
      db.execute(sql`insert into payment_events (intent_id, type, cause, details)
          values (${intentId}, 'chargeback', 'webhook', ${JSON.stringify({ chargedBack, refundedTotal: 0 })}::jsonb)`);
    const refundOnly = await intent(1500, 'partially_refunded');
    const refundThenDispute = await intent(6000, 'refunded');
    await chargeback(refundThenDispute, 4500);
    const twoDisputes = await intent(3500, 'partially_refunded');
    await chargeback(twoDisputes, 1000);
    await chargeback(twoDisputes, 2000);
    const untouched = await intent(0, 'paid');

    await runMigrations(connection());

    const rows = await queryRows<{ id: string; refunded_amount: unknown; charged_back_amount: unknown }>(
      db,
      sql`select id, refunded_amount, charged_back_amount from payment_intents`,
    );
    const amounts = Object.fromEntries(
      rows.map((row) => [row.id, [Number(row.refunded_amount), Number(row.charged_back_amount)]]),
    );
    expect(amounts).toEqual({
      [refundOnly]: [1500, 0],
      [refundThenDispute]: [1500, 4500],
      [twoDisputes]: [500, 3000],
      [untouched]: [0, 0],
    });
    // Refunds and chargebacks together still cannot pass what was paid.
    await expect(
      db.execute(sql`update payment_intents set charged_back_amount = 5000 where id = ${refundOnly}`),
    ).rejects.toThrow();
  });
});
