import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { tokenFromEmail, waitForEmail } from '../../server/src/modules/accounts/testing.js';

export const password = 'a sturdy passphrase 42';

/** Signs up in the page (as `name`), confirms the address through the outbox, and signs in; ends on the studio. */
export async function signUpInPage(
  page: Page,
  harness: { origin: string; app: FastifyInstance },
  email: string,
  name = 'Yacine',
) {
  const origin = harness.origin;
  await page.goto(`${origin}/sign-up`);
  await page.getByTestId('sign-up-name').fill(name);
  await page.getByTestId('sign-up-email').fill(email);
  await page.getByTestId('sign-up-password').fill(password);
  await page.getByTestId('sign-up-confirm-password').fill(password);
  await page.getByTestId('sign-up-submit').click();
  await page.getByTestId('sign-up-success').waitFor();
  const mail = await waitForEmail(harness.app, { to: email, template: 'verify_email' });
  await page.goto(
    `${origin}/verify-email?token=${encodeURIComponent(tokenFromEmail(mail.text, '/verify-email'))}`,
  );
  await page.getByTestId('verifyEmail-success').waitFor();
  await signInInPage(page, origin, email);
  await page.getByTestId('composer-input').waitFor();
}

/** Fills the sign-in form; the caller waits for what comes next (the studio, the code step or an error). */
export async function signInInPage(page: Page, origin: string, email: string, withPassword = password) {
  await page.goto(`${origin}/sign-in`);
  await page.getByTestId('sign-in-email').fill(email);
  await page.getByTestId('sign-in-password').fill(withPassword);
  await page.getByTestId('sign-in-submit').click();
}
