import nodemailer, { type Transporter } from 'nodemailer';

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Sends one message; implemented over SMTP by nodemailer. */
export interface MailTransport {
  send(message: OutgoingEmail): Promise<{ messageId: string }>;
  close(): void;
}

/**
 * An SMTP transport for `smtp://user:pass@host:port` or `smtps://...` (TLS from the first byte). Its timeouts bound a
 * send to about two minutes (nodemailer's own allow ten minutes of silence), which the outbox's claim lease relies on.
 */
export function createSmtpTransport(smtpUrl: string): MailTransport {
  const transporter: Transporter = nodemailer.createTransport({
    url: smtpUrl,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
  return {
    async send(message) {
      const info = await transporter.sendMail(message);
      return { messageId: String(info.messageId) };
    },
    close() {
      transporter.close();
    },
  };
}
