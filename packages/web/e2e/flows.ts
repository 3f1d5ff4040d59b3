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

/**
 * Types `text` in the studio's composer and sends it with Enter, as a person does once the send button is live.
 * Until the model list arrives there is no model to send to, and Enter leaves the text in the composer.
 */
export async function sendInStudio(page: Page, text: string) {
  await page.locator('[data-testid="send"]:enabled').waitFor();
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('composer-input').press('Enter');
}
