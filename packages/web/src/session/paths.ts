/** Where a person lands after signing in or confirming an email link when no other page asked for it. */
export const signedInHome = '/studio';

/**
 * Where to go after signing in when a page asked (`?redirect=`): only a page of this app, never another site (open
 * redirect). The target is resolved as the browser would resolve it, so spellings that browsers read as another host
 * (`//host`, `/\host`, a tab or newline among the slashes) fall back to `signedInHome`.
 */
export function safeRedirect(target: string | undefined): string {
  if (!target?.startsWith('/')) return signedInHome;
  const base = 'https://webox.invalid';
  let resolved: URL;
  try {
    resolved = new URL(target, base);
  } catch {
    return signedInHome;
  }
  return resolved.origin === base ? `${resolved.pathname}${resolved.search}${resolved.hash}` : signedInHome;
}
