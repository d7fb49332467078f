import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, test } from 'vitest';

/**
 * System programs the tests start themselves (redis-server, nginx): where they
 * are, and the skip policy when they are not — skipped with the reason
 * printed, except in CI (`CI` set), which installs them (.ci/run), so there a
 * missing one fails the suite instead.
 */

export interface SystemBinary {
  /** The program's name, as Debian installs it. */
  readonly name: string;
  /** Its path, or undefined when it is missing. */
  readonly path: string | undefined;
  /** Why it counts as missing (only meaningful when `path` is undefined). */
  readonly missingReason: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds `name`: the path in the environment variable `envName` when set (a
 * path that is not an executable means "missing", which is how the skip policy
 * is tested), else the first on PATH or in `dirs` (Debian puts some programs
 * in /usr/sbin, off a normal user's PATH).
 */
export function findSystemBinary(options: {
  name: string;
  envName: string;
  packageName: string;
  dirs: readonly string[];
  env?: NodeJS.ProcessEnv;
}): SystemBinary {
  const { name, envName, packageName, dirs, env = process.env } = options;
  const explicit = env[envName];
  if (explicit !== undefined && explicit !== '') {
    return {
      name,
      path: executable(explicit) ? explicit : undefined,
      missingReason: `${envName}=${explicit} is not an executable ${name}`,
    };
  }
  const candidates = [...(env['PATH'] ?? '').split(delimiter).filter(Boolean), ...dirs].map((dir) => join(dir, name));
  return {
    name,
    path: candidates.find(executable),
    missingReason: `${name} was not found on PATH or in ${dirs.join(', ')} (install the Debian package ${packageName})`,
  };
}

/** A describe block that needs `binary`; `kind` names the suites in the skip line (`[redis tests skipped]`). */
export function describeWithBinary(binary: SystemBinary, kind: string, name: string, body: () => void): void {
  if (!binary.path && process.env['CI']) {
    describe(name, () => {
      test(`${binary.name} is installed (required in CI)`, () => {
        throw new Error(`${binary.missingReason}; CI is set, so the ${kind} tests must run, not be skipped`);
      });
    });
    return;
  }
  if (!binary.path) console.warn(`[${kind} tests skipped] "${name}": ${binary.missingReason}`);
  describe.skipIf(!binary.path)(name, body);
}
