import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// In development the SPA runs on Vite's own port; everything the server owns is proxied to it
// so relative URLs such as `/api/setup` behave exactly as they do when the server serves `dist`.
const serverOrigin = process.env.WEBOX_SERVER_ORIGIN ?? 'http://localhost:8080';
const serverPaths = ['/api', '/v1', '/docs', '/health', '/ready', '/openapi.json'];
const proxy = Object.fromEntries(serverPaths.map((path) => [path, { target: serverOrigin }]));

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: { proxy },
  preview: { proxy },
  build: { target: 'es2022', sourcemap: true },
});
