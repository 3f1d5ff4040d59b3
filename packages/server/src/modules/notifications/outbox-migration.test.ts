import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { runMigrations } from '../../db/migrate.js';
import { describeMigration } from '../../testing/migrations.js';
import { queryRows } from '../billing/sql.js';

const migration = '0013_email_outbox_claims';

describeMigration(migration, (connection) => {
  it('clears the bodies of emails SMTP already delivered, and keeps the ones still to send or to read', async () => {
    const db = connection().db;
    const email = (status: string) =>
      db.execute(sql`insert into email_outbox (recipient, subject, text, html, template, locale, status)
          values (${`${status}@example.com`}, 'Reset', ${`${status}: /reset-password?token=live-${status}`},
          ${`<a href="/reset-password?token=live-${status}">reset</a>`}, 'reset_password', 'en', ${status})`);
    for (const status of ['sent', 'queued', 'failed', 'stored']) await email(status);

    await runMigrations(connection());

    const rows = await queryRows<{
      status: string;
      text: string | null;
      html: string | null;
      subject: string;
    }>(db, sql`select status, text, html, subject from email_outbox order by status`);
    expect(rows).toEqual([
      {
        status: 'failed',
        subject: 'Reset',
        text: expect.stringContaining('live-failed'),
        html: expect.any(String),
      },
      {
        status: 'queued',
        subject: 'Reset',
        text: expect.stringContaining('live-queued'),
        html: expect.any(String),
      },
      { status: 'sent', subject: 'Reset', text: null, html: null },
      {
        status: 'stored',
        subject: 'Reset',
        text: expect.stringContaining('live-stored'),
        html: expect.any(String),
      },
    ]);
  });
});
