/** Where a person lands after signing in or confirming an email link when no other page asked for it. */
export const signedInHome = '/studio';
