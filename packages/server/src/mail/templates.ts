/** Languages emails are written in; a person's preference picks one, English otherwise. */
export type MailLocale = 'fr' | 'en' | 'ar';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** Every email the platform sends, with the data each one needs. */
export interface MailTemplates {
  verify_email: { name: string; link: string };
  account_exists: { name: string; resetLink: string; signInLink: string };
  reset_password: { name: string; link: string };
  change_email: { name: string; link: string; newEmail: string };
  email_changed: { name: string; newEmail: string };
  password_changed: { name: string };
  two_factor_changed: { name: string; enabled: boolean };
  /** Carries no code: the notice is for an owner who did not ask, and a mailbox is not where codes are kept. */
  backup_codes_regenerated: { name: string };
  /** `enabled`: the change the code confirms (two-factor turned on, or off). */
  two_factor_code: { name: string; code: string; enabled: boolean };
  account_deletion_scheduled: { name: string; date: string };
  payment_receipt: { name: string; number: string; amount: string; credits: string; link: string };
  organization_invitation: { name: string; inviter: string; organization: string; link: string };
}
export type MailTemplateName = keyof MailTemplates;

interface Copy {
  subject: string;
  /** Paragraphs; `{name}`-style placeholders are replaced with escaped data. */
  lines: string[];
  /** The call to action, when the email carries a link. */
  action?: { label: string; href: string };
}

type Catalogue = { [Name in MailTemplateName]: Record<MailLocale, Copy> };

const hello = { fr: 'Bonjour {name},', en: 'Hello {name},', ar: 'مرحبًا {name}،' };
const ignore = {
  fr: "Si vous n'êtes pas à l'origine de cette demande, ignorez cet e-mail.",
  en: 'If you did not ask for this, you can ignore this email.',
  ar: 'إذا لم تطلب ذلك، يمكنك تجاهل هذه الرسالة.',
};
const notYou = {
  fr: "Si ce n'était pas vous, réinitialisez votre mot de passe immédiatement et contactez le support.",
  en: 'If this was not you, reset your password now and contact support.',
  ar: 'إذا لم تكن أنت، أعد تعيين كلمة المرور فورًا وتواصل مع الدعم.',
};

const catalogue: Catalogue = {
  verify_email: {
    fr: {
      subject: 'Confirmez votre adresse e-mail',
      lines: [
        hello.fr,
        'Confirmez votre adresse pour activer votre compte WeBox. Le lien est valable 48 heures.',
        ignore.fr,
      ],
      action: { label: 'Confirmer mon adresse', href: 'link' },
    },
    en: {
      subject: 'Confirm your email address',
      lines: [
        hello.en,
        'Confirm your address to activate your WeBox account. The link is valid for 48 hours.',
        ignore.en,
      ],
      action: { label: 'Confirm my address', href: 'link' },
    },
    ar: {
      subject: 'أكّد عنوان بريدك الإلكتروني',
      lines: [hello.ar, 'أكّد عنوانك لتفعيل حسابك في WeBox. الرابط صالح لمدة 48 ساعة.', ignore.ar],
      action: { label: 'تأكيد عنواني', href: 'link' },
    },
  },
  account_exists: {
    fr: {
      subject: 'Vous avez déjà un compte WeBox',
      lines: [
        hello.fr,
        "Quelqu'un a essayé de créer un compte avec cette adresse, mais vous en avez déjà un. Connectez-vous : {signInLink}",
        'Mot de passe oublié ? Réinitialisez-le ici : {resetLink}',
        ignore.fr,
      ],
    },
    en: {
      subject: 'You already have a WeBox account',
      lines: [
        hello.en,
        'Someone tried to sign up with this address, but you already have an account. Sign in: {signInLink}',
        'Forgot your password? Reset it here: {resetLink}',
        ignore.en,
      ],
    },
    ar: {
      subject: 'لديك حساب في WeBox بالفعل',
      lines: [
        hello.ar,
        'حاول أحدهم إنشاء حساب بهذا العنوان، لكن لديك حساب بالفعل. سجّل الدخول: {signInLink}',
        'نسيت كلمة المرور؟ أعد تعيينها من هنا: {resetLink}',
        ignore.ar,
      ],
    },
  },
  reset_password: {
    fr: {
      subject: 'Réinitialisez votre mot de passe',
      lines: [
        hello.fr,
        'Choisissez un nouveau mot de passe. Le lien est valable une heure et ne sert qu’une fois.',
        ignore.fr,
      ],
      action: { label: 'Choisir un mot de passe', href: 'link' },
    },
    en: {
      subject: 'Reset your password',
      lines: [hello.en, 'Choose a new password. The link is valid for one hour and works once.', ignore.en],
      action: { label: 'Choose a password', href: 'link' },
    },
    ar: {
      subject: 'أعد تعيين كلمة المرور',
      lines: [hello.ar, 'اختر كلمة مرور جديدة. الرابط صالح لمدة ساعة واحدة ويُستخدم مرة واحدة.', ignore.ar],
      action: { label: 'اختيار كلمة مرور', href: 'link' },
    },
  },
  change_email: {
    fr: {
      subject: 'Confirmez votre nouvelle adresse e-mail',
      lines: [
        hello.fr,
        'Confirmez {newEmail} comme nouvelle adresse de votre compte WeBox. Le lien est valable 48 heures.',
        ignore.fr,
      ],
      action: { label: 'Confirmer', href: 'link' },
    },
    en: {
      subject: 'Confirm your new email address',
      lines: [
        hello.en,
        'Confirm {newEmail} as the new address of your WeBox account. The link is valid for 48 hours.',
        ignore.en,
      ],
      action: { label: 'Confirm', href: 'link' },
    },
    ar: {
      subject: 'أكّد عنوان بريدك الإلكتروني الجديد',
      lines: [hello.ar, 'أكّد {newEmail} كعنوان جديد لحسابك في WeBox. الرابط صالح لمدة 48 ساعة.', ignore.ar],
      action: { label: 'تأكيد', href: 'link' },
    },
  },
  email_changed: {
    fr: {
      subject: 'Votre adresse e-mail a changé',
      lines: [hello.fr, 'L’adresse de votre compte est désormais {newEmail}.', notYou.fr],
    },
    en: {
      subject: 'Your email address changed',
      lines: [hello.en, 'Your account address is now {newEmail}.', notYou.en],
    },
    ar: {
      subject: 'تم تغيير عنوان بريدك الإلكتروني',
      lines: [hello.ar, 'أصبح عنوان حسابك الآن {newEmail}.', notYou.ar],
    },
  },
  password_changed: {
    fr: {
      subject: 'Votre mot de passe a changé',
      lines: [hello.fr, 'Le mot de passe de votre compte WeBox vient d’être modifié.', notYou.fr],
    },
    en: {
      subject: 'Your password changed',
      lines: [hello.en, 'The password of your WeBox account was just changed.', notYou.en],
    },
    ar: {
      subject: 'تم تغيير كلمة المرور',
      lines: [hello.ar, 'تم للتو تغيير كلمة مرور حسابك في WeBox.', notYou.ar],
    },
  },
  two_factor_changed: {
    fr: {
      subject: 'Double authentification : {state}',
      lines: [hello.fr, 'La double authentification de votre compte est maintenant {state}.', notYou.fr],
    },
    en: {
      subject: 'Two-factor authentication {state}',
      lines: [hello.en, 'Two-factor authentication on your account is now {state}.', notYou.en],
    },
    ar: {
      subject: 'المصادقة الثنائية: {state}',
      lines: [hello.ar, 'المصادقة الثنائية لحسابك الآن {state}.', notYou.ar],
    },
  },
  backup_codes_regenerated: {
    fr: {
      subject: 'Nouveaux codes de secours',
      lines: [
        hello.fr,
        'De nouveaux codes de secours viennent d’être créés pour la double authentification de votre compte WeBox ; les anciens ne fonctionnent plus.',
        notYou.fr,
      ],
    },
    en: {
      subject: 'New backup codes',
      lines: [
        hello.en,
        'New backup codes were just created for two-factor authentication on your WeBox account; the old ones no longer work.',
        notYou.en,
      ],
    },
    ar: {
      subject: 'رموز احتياطية جديدة',
      lines: [
        hello.ar,
        'تم للتو إنشاء رموز احتياطية جديدة للمصادقة الثنائية في حسابك على WeBox، ولم تعد الرموز القديمة صالحة.',
        notYou.ar,
      ],
    },
  },
  // The code stays out of the subject: admins see subjects in the outbox, and phones show them on locked screens.
  two_factor_code: {
    fr: {
      subject: 'Votre code de sécurité WeBox',
      lines: [
        hello.fr,
        'Une session ouverte sur votre compte demande que la double authentification soit {state}. Pour le confirmer, saisissez ce code : {code}',
        'Il est valable 10 minutes et ne sert qu’une fois. Ne le communiquez à personne : WeBox ne vous le demandera jamais.',
        "Si ce n'était pas vous, n'utilisez pas ce code : quelqu'un est peut-être connecté à votre compte. Déconnectez les autres sessions depuis vos paramètres de sécurité.",
      ],
    },
    en: {
      subject: 'Your WeBox security code',
      lines: [
        hello.en,
        'A session signed in to your account asks for two-factor authentication to be {state}. To confirm, enter this code: {code}',
        'It is valid for 10 minutes and works once. Share it with no one: WeBox will never ask you for it.',
        'If this was not you, do not use the code: someone may be signed in to your account. Sign out the other sessions from your security settings.',
      ],
    },
    ar: {
      subject: 'رمز الأمان الخاص بك في WeBox',
      lines: [
        hello.ar,
        'تطلب جلسة مفتوحة على حسابك أن تصبح المصادقة الثنائية {state}. للتأكيد، أدخل هذا الرمز: {code}',
        'الرمز صالح لمدة 10 دقائق ويُستخدم مرة واحدة. لا تشاركه مع أحد: لن يطلبه منك WeBox أبدًا.',
        'إذا لم تكن أنت، فلا تستخدم الرمز: ربما سجّل أحدهم الدخول إلى حسابك. سجّل خروج الجلسات الأخرى من إعدادات الأمان.',
      ],
    },
  },
  account_deletion_scheduled: {
    fr: {
      subject: 'Suppression de votre compte programmée',
      lines: [
        hello.fr,
        'Votre compte sera supprimé définitivement le {date}. Connectez-vous avant cette date pour annuler.',
        notYou.fr,
      ],
    },
    en: {
      subject: 'Your account is scheduled for deletion',
      lines: [
        hello.en,
        'Your account will be deleted for good on {date}. Sign in before then to cancel.',
        notYou.en,
      ],
    },
    ar: {
      subject: 'تمت جدولة حذف حسابك',
      lines: [hello.ar, 'سيُحذف حسابك نهائيًا في {date}. سجّل الدخول قبل ذلك للإلغاء.', notYou.ar],
    },
  },
  payment_receipt: {
    fr: {
      subject: 'Reçu de paiement {number}',
      lines: [
        hello.fr,
        'Merci ! Votre paiement de {amount} est confirmé : {credits} crédits ont été ajoutés à votre solde.',
        'Votre reçu {number} est disponible dans votre historique de paiements.',
      ],
      action: { label: 'Télécharger le reçu', href: 'link' },
    },
    en: {
      subject: 'Payment receipt {number}',
      lines: [
        hello.en,
        'Thank you! Your payment of {amount} is confirmed: {credits} credits were added to your balance.',
        'Your receipt {number} is in your payment history.',
      ],
      action: { label: 'Download the receipt', href: 'link' },
    },
    ar: {
      subject: 'إيصال الدفع {number}',
      lines: [
        hello.ar,
        'شكرًا! تم تأكيد دفعتك بقيمة {amount}: أضيف {credits} رصيدًا إلى حسابك.',
        'إيصالك {number} متاح في سجل المدفوعات.',
      ],
      action: { label: 'تنزيل الإيصال', href: 'link' },
    },
  },
  organization_invitation: {
    fr: {
      subject: 'Invitation à rejoindre {organization} sur WeBox',
      lines: [
        hello.fr,
        '{inviter} vous invite à rejoindre l’organisation « {organization} » sur WeBox.',
        'Connectez-vous (ou créez un compte) avec cette adresse e-mail, puis ouvrez le lien. Il est valable 7 jours et ne sert qu’une fois.',
        ignore.fr,
      ],
      action: { label: 'Accepter l’invitation', href: 'link' },
    },
    en: {
      subject: 'Join {organization} on WeBox',
      lines: [
        hello.en,
        '{inviter} invites you to join the organisation “{organization}” on WeBox.',
        'Sign in (or create an account) with this email address, then open the link. It is valid for 7 days and works once.',
        ignore.en,
      ],
      action: { label: 'Accept the invitation', href: 'link' },
    },
    ar: {
      subject: 'دعوة للانضمام إلى {organization} على WeBox',
      lines: [
        hello.ar,
        'يدعوك {inviter} للانضمام إلى المؤسسة «{organization}» على WeBox.',
        'سجّل الدخول (أو أنشئ حسابًا) بعنوان البريد هذا، ثم افتح الرابط. الرابط صالح لمدة 7 أيام ويُستخدم مرة واحدة.',
        ignore.ar,
      ],
      action: { label: 'قبول الدعوة', href: 'link' },
    },
  },
};

const stateWords: Record<MailLocale, { on: string; off: string }> = {
  fr: { on: 'activée', off: 'désactivée' },
  en: { on: 'enabled', off: 'disabled' },
  ar: { on: 'مفعّلة', off: 'معطّلة' },
};

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function fill(template: string, data: Record<string, string>, encode: (value: string) => string): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in data ? encode(data[key]!) : whole));
}

/** Renders one email in one language as a subject, a plain-text body and an HTML body (data escaped in HTML). */
export function renderEmail<Name extends MailTemplateName>(
  name: Name,
  locale: MailLocale,
  data: MailTemplates[Name],
): RenderedEmail {
  const copy = catalogue[name][locale];
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    values[key] = typeof value === 'boolean' ? '' : String(value);
  }
  if ('enabled' in data) values.state = data.enabled ? stateWords[locale].on : stateWords[locale].off;
  if (!values.name) values.name = { fr: 'bonjour', en: 'there', ar: '' }[locale];
  const subject = fill(copy.subject, values, (value) => value);
  const href = copy.action ? values[copy.action.href] : undefined;
  const textLines = copy.lines.map((line) => fill(line, values, (value) => value));
  if (copy.action && href) textLines.splice(textLines.length - 1, 0, `${copy.action.label}: ${href}`);
  const text = `${textLines.join('\n\n')}\n\n— WeBox\n`;
  const direction = locale === 'ar' ? 'rtl' : 'ltr';
  // No URL in the copy or the data becomes a link: names people type would otherwise be clickable (phishing).
  const paragraphs = copy.lines.map((line) => `<p>${fill(line, values, escapeHtml)}</p>`);
  if (copy.action && href) {
    paragraphs.splice(
      paragraphs.length - 1,
      0,
      `<p><a href="${escapeHtml(href)}" style="display:inline-block;padding:10px 18px;background:#4f46e5;color:#fff;border-radius:6px;text-decoration:none">${escapeHtml(copy.action.label)}</a></p><p style="font-size:12px;color:#555">${escapeHtml(href)}</p>`,
    );
  }
  const html = `<!doctype html><html lang="${locale}" dir="${direction}"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111;max-width:560px;margin:auto;padding:24px">${paragraphs.join('')}<p style="color:#555">— WeBox</p></body></html>`;
  return { subject, text, html };
}

/** What an invitation says in place of an inviter whose account was erased (only owners invite). */
const erasedInviter: Record<MailLocale, string> = {
  fr: 'Un propriétaire',
  en: 'An owner',
  ar: 'أحد المالكين',
};

/**
 * An organisation invitation's body with `inviter` (as it was rendered: a name or an address) replaced by neutral
 * wording where the copy names the inviter, and nowhere else (an organisation may share the inviter's name); undefined
 * when the body does not name them there. The link and everything else stay as they were.
 */
export function withoutInviter(
  locale: MailLocale,
  body: { text: string; html: string | null },
  inviter: string,
): { text: string; html: string | null } | undefined {
  const line = catalogue.organization_invitation[locale].lines.find((each) => each.includes('{inviter}'))!;
  const [before, rest] = line.split('{inviter}') as [string, string];
  // The copy around the inviter, up to the next placeholder on either side.
  const prefix = before.slice(before.lastIndexOf('}') + 1);
  const suffix = rest.includes('{') ? rest.slice(0, rest.indexOf('{')) : rest;
  const swap = (text: string, named: string, neutral: string) =>
    text.split(`${prefix}${named}${suffix}`).join(`${prefix}${neutral}${suffix}`);
  const text = swap(body.text, inviter, erasedInviter[locale]);
  const html =
    body.html === null ? null : swap(body.html, escapeHtml(inviter), escapeHtml(erasedInviter[locale]));
  return text === body.text && html === body.html ? undefined : { text, html };
}
