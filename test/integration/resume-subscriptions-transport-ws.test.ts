import { SUBSCRIPTIONS_TRANSPORT_WS_RESUME, testResumeScenarios } from '../helpers/resume-checks.ts';
import { useTestServer } from '../helpers/server.ts';

/**
 * subscriptions-transport-ws (Apollo's older protocol, with the real client
 * package) resumes like graphql-ws: `after: <cursor>` after an abrupt drop
 * loses and repeats nothing while the chain produces at SIM_TPS=200; `replay`
 * sends the last N (matching) events first.
 */

const server = useTestServer({ SIM_TPS: '200' });

testResumeScenarios(server, SUBSCRIPTIONS_TRANSPORT_WS_RESUME);
