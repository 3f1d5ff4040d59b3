// Test helpers other packages reuse: the server runs the breaker-store suite against its Redis store.

export { type AdapterConformanceOptions, runAdapterConformanceSuite } from './adapter-conformance.suite.js';
export { type BreakerStoreSuiteOptions, runBreakerStoreSuite } from './breaker-store.suite.js';
export {
  type CapturedRequest,
  type FakeResponse,
  type FakeUpstream,
  readChunksFixture,
  readJsonFixture,
  readNamedChunksFixture,
  startFakeUpstream,
} from './fake-upstream.js';
export { makePdf } from './pdf.js';
