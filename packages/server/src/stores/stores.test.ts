import { storeBackends } from '../testing/backends.js';
import { describeStores } from './stores.suite.js';

for (const backend of storeBackends()) describeStores(backend);
