// Regenerates openapi.json and src/schema.ts from the server's routes: `npm run openapi`.
import { writeFile } from 'node:fs/promises';
import openapiTS, { astToString } from 'openapi-typescript';
import { currentOpenApiDocument } from './openapi-document.js';

const document = await currentOpenApiDocument();
const banner = '// Generated from openapi.json by `npm run openapi`. Do not edit by hand.\n\n';
await writeFile(new URL('../openapi.json', import.meta.url), `${JSON.stringify(document, null, 2)}\n`);
await writeFile(
  new URL('../src/schema.ts', import.meta.url),
  banner + astToString(await openapiTS(document as unknown as Parameters<typeof openapiTS>[0])),
);
process.stdout.write('Wrote packages/sdk/openapi.json and packages/sdk/src/schema.ts\n');
