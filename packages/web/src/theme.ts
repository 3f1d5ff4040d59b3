/** The colour theme: the person's choice, applied as `<html data-theme>` which the `dark:` utilities follow. */
export type ThemeChoice = 'system' | 'light' | 'dark';

const storageKey = 'webox.theme';
const darkQuery = '(prefers-color-scheme: dark)';

function readStoredTheme(): ThemeChoice {
  try {
    const stored = window.localStorage.getItem(storageKey);
    return stored === 'light' || stored === 'dark' ? stored : 'system';
  } catch {
    return 'system';
  }
}

let choice: ThemeChoice = 'system';

function apply(): void {
  const dark = choice === 'dark' || (choice === 'system' && window.matchMedia(darkQuery).matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

/** Applies a theme now and remembers it on this device (the account keeps it for other devices). */
export function setTheme(next: ThemeChoice): void {
  choice = next;
  try {
    if (next === 'system') window.localStorage.removeItem(storageKey);
    else window.localStorage.setItem(storageKey, next);
  } catch {
    // Not persisting is acceptable: the choice still applies for this visit.
  }
  apply();
}

// Applied before the first render, so a dark page never flashes light.
choice = readStoredTheme();
apply();
window.matchMedia(darkQuery).addEventListener('change', () => {
  if (choice === 'system') apply();
});
