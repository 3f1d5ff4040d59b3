import { describe, expect, it } from 'vitest';
import { renderEmail } from './templates.js';

describe('mail templates', () => {
  it('never turns a URL someone typed into a name into a link; the one link is the action', () => {
    const email = renderEmail('organization_invitation', 'en', {
      name: 'Sam',
      inviter: 'Support https://evil.example/login',
      organization: 'Acme <b>https://evil.example</b>',
      link: 'https://webox.example/organizations/accept?token=abc',
    });
    const anchors = [...email.html.matchAll(/<a href="([^"]*)"/g)].map((match) => match[1]);
    expect(anchors).toEqual(['https://webox.example/organizations/accept?token=abc']);
    expect(email.html).toContain('Acme &lt;b&gt;https://evil.example&lt;/b&gt;');
    expect(email.html).not.toContain('<b>');
  });
});
