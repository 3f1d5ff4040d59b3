import type en from './en.json';

// Translation keys are checked at compile time against the English resources;
// the unit test keeps the French and Arabic files in step with them.
declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation';
    resources: { translation: typeof en };
  }
}
