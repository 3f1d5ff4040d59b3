/** The WeBox mark: drawn inline so the first paint needs no extra request. */
export function Logo() {
  return (
    <span className="flex items-center gap-2 font-bold text-lg tracking-tight">
      <svg aria-hidden="true" viewBox="0 0 32 32" className="size-8 shrink-0" focusable="false">
        <rect width="32" height="32" rx="8" className="fill-indigo-600 dark:fill-indigo-500" />
        <path
          d="M7 10l4 13 5-9 5 9 4-13"
          fill="none"
          stroke="white"
          strokeWidth="3"
          strokeLinecap="round"
          strokeLinejoin="round"
        />
      </svg>
      {/* The brand name is Latin in every language, so it must not be mirrored. */}
      <span dir="ltr">WeBox</span>
    </span>
  );
}
