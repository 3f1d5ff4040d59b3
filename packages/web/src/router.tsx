import { createRootRoute, createRoute, createRouter } from '@tanstack/react-router';
import { AppShell } from './components/app-shell';
import { HomePage } from './pages/home-page';
import { NotFoundPage } from './pages/not-found-page';
import { SetupPage } from './pages/setup-page';

// Code-based route tree: a handful of routes does not justify a code generation step in the build.
// Every path not listed here is answered by the server with index.html and lands on NotFoundPage.
const rootRoute = createRootRoute({ component: AppShell, notFoundComponent: NotFoundPage });

const homeRoute = createRoute({ getParentRoute: () => rootRoute, path: '/', component: HomePage });

interface SetupSearch {
  token?: string;
}

const setupRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/setup',
  validateSearch: (search: Record<string, unknown>): SetupSearch =>
    typeof search.token === 'string' && search.token !== '' ? { token: search.token } : {},
  component: function SetupRoute() {
    const { token } = setupRoute.useSearch();
    return <SetupPage token={token} />;
  },
});

const routeTree = rootRoute.addChildren([homeRoute, setupRoute]);

export const router = createRouter({ routeTree, scrollRestoration: true });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
