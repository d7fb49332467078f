/**
 * Setup file (vitest.config.ts `setupFiles`): every test file gets a root
 * scope, so `track()` from a file-level beforeAll disposes at the end of the file.
 */
import { useScope } from './track.ts';

useScope();
