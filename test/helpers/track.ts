import { afterAll, beforeAll, onTestFinished, TestRunner } from 'vitest';

/**
 * One way to clean up after a test: `track(resource)` closes what a test (or a
 * suite's beforeAll) opened, in reverse order of opening, whatever happens in
 * between — no cleanup arrays, no `finally`, no `afterAll` per resource.
 *
 * - Called while a test runs (its body, beforeEach or afterEach), the resource
 *   is disposed when that test finishes (vitest's `onTestFinished`, which runs
 *   after the afterEach hooks).
 * - Called from a `beforeAll`, it is disposed when the innermost open suite
 *   scope ends: the suite of the nearest fixture (`useFixture`, and the helpers
 *   built on it: `useTestServer`, `useControlFeed`, `useRedisServer`, …), else
 *   the test file (test/helpers/setup.ts opens a scope per file). Resources
 *   tracked after a server in the same scope are disposed before it.
 *
 * The helpers that open things (servers, clients, sockets, feeds, probes, child
 * processes) track what they open themselves; tests call `track` only for what
 * they build by hand.
 */

/** What the helpers know how to close. */
export type Closable =
  | AsyncDisposable
  | Disposable
  | { dispose(): unknown }
  | { stop(): unknown }
  | { terminate(): unknown }
  | { destroy(): unknown }
  | { close(): unknown }
  | { disconnect(): unknown }
  | { abort(): unknown };

/**
 * How a resource is closed when no explicit disposer is given: its own disposal
 * (Symbol.asyncDispose, Symbol.dispose, dispose, stop), else the abrupt ways
 * (terminate, destroy) before the polite ones (close, disconnect, abort).
 */
export function disposerOf(resource: Closable): () => unknown {
  const r = resource as Partial<Record<string | symbol, unknown>>;
  for (const key of [
    Symbol.asyncDispose,
    Symbol.dispose,
    'dispose',
    'stop',
    'terminate',
    'destroy',
    'close',
    'disconnect',
    'abort',
  ] as const) {
    const method = r[key];
    if (typeof method === 'function') return () => (method as () => unknown).call(resource);
  }
  throw new Error('track(): the resource has no dispose/stop/terminate/destroy/close/disconnect/abort method; pass a disposer');
}

type Cleanup = () => unknown;
const scopes: Cleanup[][] = [];

async function runAll(cleanups: Cleanup[]): Promise<void> {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`);
}

/**
 * Opens a suite scope: registers a beforeAll that opens it and an afterAll that
 * disposes, in reverse order, everything tracked into it. Call at collection
 * time (describe body or file top level). `onOpen` runs right after the scope
 * opened, inside the same beforeAll, so what it tracks belongs to the scope.
 */
export function useScope(onOpen?: () => unknown, timeoutMs?: number): void {
  let scope: Cleanup[] | undefined;
  beforeAll(async () => {
    scope = [];
    scopes.push(scope);
    await onOpen?.();
  }, timeoutMs);
  afterAll(async () => {
    const index = scope ? scopes.lastIndexOf(scope) : -1;
    if (index >= 0) scopes.splice(index, 1);
    await runAll(scope ?? []);
  }, timeoutMs);
}

/** Registers a cleanup with the running test, or with the innermost open suite scope. */
export function onCleanup(cleanup: Cleanup): void {
  if (TestRunner.getCurrentTest()) {
    onTestFinished(async () => {
      await cleanup();
    });
    return;
  }
  const scope = scopes.at(-1);
  if (!scope) throw new Error('onCleanup()/track() outside a test and outside any suite scope (is test/helpers/setup.ts a setup file?)');
  scope.push(cleanup);
}

/** Disposes `resource` when the current test (or suite scope) ends; returns it. */
export function track<T extends Closable>(resource: T): T;
/** Runs `dispose(resource)` when the current test (or suite scope) ends; returns the resource. */
export function track<T>(resource: T, dispose: (resource: T) => unknown): T;
export function track<T>(resource: T, dispose?: (resource: T) => unknown): T {
  const close = dispose ? () => dispose(resource) : disposerOf(resource as Closable);
  onCleanup(close);
  return resource;
}

/**
 * A stand-in for a value that exists only once a beforeAll has run: property
 * reads and method calls go to `current()` at the time they happen, so the
 * handle can be created at collection time and used inside tests and hooks.
 */
export function handleOf<T extends object>(current: () => T | undefined, name = 'fixture'): T {
  const value = (): T => {
    const target = current();
    if (target === undefined) throw new Error(`${name}: it starts in beforeAll; use it inside tests and hooks`);
    return target;
  };
  return new Proxy({} as T, {
    get(_, key) {
      // Not a thenable: `await handle` must not reach for a value that is not there yet.
      if (key === 'then') return undefined;
      const target = value();
      const member: unknown = Reflect.get(target, key, target);
      return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(target) : member;
    },
    has: (_, key) => Reflect.has(value(), key),
  });
}

/**
 * A suite fixture: `start` runs in a beforeAll of the enclosing describe (or
 * file), in a scope of its own, so what it opens — and what the suite's later
 * beforeAll hooks track — is closed in that scope's afterAll, in reverse order.
 * Returns a handle that stands for the started value inside tests and hooks.
 */
export function useFixture<T extends object>(start: () => T | Promise<T>, options: { timeoutMs?: number; name?: string } = {}): T {
  let current: T | undefined;
  useScope(async () => {
    current = await start();
  }, options.timeoutMs);
  return handleOf(() => current, options.name);
}
