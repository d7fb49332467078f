import { MULTIPART_RESUME, testResumeScenarios } from '../helpers/resume-checks.ts';
import { useTestServer } from '../helpers/server.ts';

/**
 * Multipart HTTP subscriptions (Apollo Client 4's HttpLink) resume like every
 * other transport: `after: <cursor>` after the request is cut loses and
 * repeats nothing while the chain produces at SIM_TPS=200; `replay` sends the
 * last N (matching) events first.
 */

const server = useTestServer({ SIM_TPS: '200' });

testResumeScenarios(server, MULTIPART_RESUME);
