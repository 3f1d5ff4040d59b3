import { describe, expect, it } from 'vitest';
import { safeRedirect, signedInHome } from './paths';

describe('safeRedirect', () => {
  const origin = 'https://app.example';
  const landsOn = (target: string) => new URL(safeRedirect(target), `${origin}/sign-in`);

  it('follows a page of this app, with its query and fragment', () => {
    expect(safeRedirect('/studio/chat?conversation=12#last')).toBe('/studio/chat?conversation=12#last');
    expect(safeRedirect('/settings/security')).toBe('/settings/security');
  });

  it('never sends the browser to another site, however the address is spelt', () => {
    for (const target of [
      'https://evil.example/',
      '//evil.example',
      '/\\evil.example',
      '/\\/evil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      '\\/evil.example',
      'javascript:alert(1)',
    ]) {
      expect(landsOn(target).origin, target).toBe(origin);
    }
    expect(safeRedirect('/\\evil.example')).toBe(signedInHome);
    expect(safeRedirect(undefined)).toBe(signedInHome);
  });
});
