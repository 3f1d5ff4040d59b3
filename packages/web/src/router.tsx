import {
  createRootRoute,
  createRoute,
  createRouter,
  lazyRouteComponent,
  redirect,
} from '@tanstack/react-router';
import { AppShell } from './components/app-shell';
import { SignInPage } from './pages/auth/sign-in-page';
import { SignUpPage } from './pages/auth/sign-up-page';
import {
  ConfirmEmailChangePage,
  ForgotPasswordPage,
  ResetPasswordPage,
  VerifyEmailPage,
} from './pages/auth/token-pages';
import { HomePage } from './pages/home-page';
import { NotFoundPage } from './pages/not-found-page';
import { SetupPage } from './pages/setup-page';
import { RequireAccount } from './session/require-account';

// Code-based route tree: a handful of routes does not justify a code generation step in the build.
// Every path not listed here is answered by the server with index.html and lands on NotFoundPage.
const rootRoute = createRootRoute({ component: AppShell, notFoundComponent: NotFoundPage });

const homeRoute = createRoute({ getParentRoute: () => rootRoute, path: '/', component: HomePage });

interface TokenSearch {
  token?: string;
}

/** Email links and the setup link carry a one-time `?token=`. */
const tokenSearch = (search: Record<string, unknown>): TokenSearch =>
  typeof search.token === 'string' && search.token !== '' ? { token: search.token } : {};

const setupRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/setup',
  validateSearch: tokenSearch,
  component: function SetupRoute() {
    const { token } = setupRoute.useSearch();
    return <SetupPage token={token} />;
  },
});

const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/sign-in',
  validateSearch: (search: Record<string, unknown>): { redirect?: string } =>
    typeof search.redirect === 'string' ? { redirect: search.redirect } : {},
  component: function SignInRoute() {
    const { redirect } = signInRoute.useSearch();
    return <SignInPage redirect={redirect} />;
  },
});

const signUpRoute = createRoute({ getParentRoute: () => rootRoute, path: '/sign-up', component: SignUpPage });

const forgotPasswordRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/forgot-password',
  component: ForgotPasswordPage,
});

// The paths below are the ones the server writes into its emails (accounts/auth-service.ts).
const verifyEmailRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/verify-email',
  validateSearch: tokenSearch,
  component: function VerifyEmailRoute() {
    return <VerifyEmailPage token={verifyEmailRoute.useSearch().token} />;
  },
});

const resetPasswordRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/reset-password',
  validateSearch: tokenSearch,
  component: function ResetPasswordRoute() {
    return <ResetPasswordPage token={resetPasswordRoute.useSearch().token} />;
  },
});

const confirmEmailChangeRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/confirm-email-change',
  validateSearch: tokenSearch,
  component: function ConfirmEmailChangeRoute() {
    return <ConfirmEmailChangePage token={confirmEmailChangeRoute.useSearch().token} />;
  },
});

// The studio carries the Markdown, highlighting and streaming code: loaded when first opened, not on the home page.
const StudioPage = lazyRouteComponent(() => import('./pages/studio/studio-page'), 'StudioPage');
const CreditsPage = lazyRouteComponent(() => import('./pages/credits/credits-page'), 'CreditsPage');
const KeysPage = lazyRouteComponent(() => import('./pages/keys/keys-page'), 'KeysPage');
const BuyCreditsPage = lazyRouteComponent(
  () => import('./pages/payments/buy-credits-page'),
  'BuyCreditsPage',
);
const PaymentsHistoryPage = lazyRouteComponent(
  () => import('./pages/payments/payments-history-page'),
  'PaymentsHistoryPage',
);
const PaymentsResultPage = lazyRouteComponent(
  () => import('./pages/payments/payments-result-page'),
  'PaymentsResultPage',
);
const OrganizationsPage = lazyRouteComponent(
  () => import('./pages/organizations/organizations-page'),
  'OrganizationsPage',
);
const AcceptInvitationPage = lazyRouteComponent(
  () => import('./pages/organizations/accept-invitation-page'),
  'AcceptInvitationPage',
);
const ProfilePage = lazyRouteComponent(() => import('./pages/settings/profile-page'), 'ProfilePage');
const SecurityPage = lazyRouteComponent(() => import('./pages/settings/security-page'), 'SecurityPage');

const studioRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/studio',
  validateSearch: (search: Record<string, unknown>): { c?: string } =>
    typeof search.c === 'string' && /^[0-9a-f-]{36}$/i.test(search.c) ? { c: search.c } : {},
  component: function StudioRoute() {
    const { c } = studioRoute.useSearch();
    return <RequireAccount>{() => <StudioPage conversationId={c} />}</RequireAccount>;
  },
});

const creditsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/credits',
  component: CreditsPage,
});

const buyCreditsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/credits/buy',
  component: BuyCreditsPage,
});

const paymentsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/payments',
  component: PaymentsHistoryPage,
});

// The return URLs given to Chargily, Stripe and PayPal (payments/checkout.ts).
const paymentSuccessRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/payments/$id/success',
  component: function PaymentSuccessRoute() {
    return <PaymentsResultPage id={paymentSuccessRoute.useParams().id} returned="success" />;
  },
});

const paymentFailureRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/payments/$id/failure',
  component: function PaymentFailureRoute() {
    return <PaymentsResultPage id={paymentFailureRoute.useParams().id} returned="failure" />;
  },
});

const keysRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/keys',
  component: function KeysRoute() {
    return <RequireAccount>{() => <KeysPage />}</RequireAccount>;
  },
});

const organizationsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/organizations',
  validateSearch: (search: Record<string, unknown>): { id?: string } =>
    typeof search.id === 'string' && /^[0-9a-f-]{36}$/i.test(search.id) ? { id: search.id } : {},
  component: function OrganizationsRoute() {
    return <OrganizationsPage selected={organizationsRoute.useSearch().id} />;
  },
});

// The path the server writes into invitation emails (organizations/routes.ts).
const acceptInvitationRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/organizations/accept',
  validateSearch: tokenSearch,
  component: function AcceptInvitationRoute() {
    return <AcceptInvitationPage token={acceptInvitationRoute.useSearch().token} />;
  },
});

const settingsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/settings',
  beforeLoad: ({ location }) => {
    if (location.pathname.replace(/\/$/, '') === '/settings') throw redirect({ to: '/settings/profile' });
  },
});

const profileRoute = createRoute({
  getParentRoute: () => settingsRoute,
  path: '/profile',
  component: function ProfileRoute() {
    return <RequireAccount>{(account) => <ProfilePage account={account} />}</RequireAccount>;
  },
});

const securityRoute = createRoute({
  getParentRoute: () => settingsRoute,
  path: '/security',
  component: function SecurityRoute() {
    return <RequireAccount>{(account) => <SecurityPage account={account} />}</RequireAccount>;
  },
});

const routeTree = rootRoute.addChildren([
  settingsRoute.addChildren([profileRoute, securityRoute]),
  studioRoute,
  creditsRoute,
  buyCreditsRoute,
  paymentsRoute,
  paymentSuccessRoute,
  paymentFailureRoute,
  keysRoute,
  organizationsRoute,
  acceptInvitationRoute,
  homeRoute,
  setupRoute,
  signInRoute,
  signUpRoute,
  forgotPasswordRoute,
  verifyEmailRoute,
  resetPasswordRoute,
  confirmEmailChangeRoute,
]);

export const router = createRouter({ routeTree, scrollRestoration: true });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
