/**
 * Host key trust. Before the pool trusts a VM's SSH host key it asks the
 * driver (`Instance.verifyHostKey`); a driver that cannot tell defers to the
 * InstanceSecret check: the create call put a random secret both in the
 * instance's tags and in its init script, which wrote it to a root-only file;
 * a host that can show us that file's content is the VM we created.
 *
 * Outcomes: the driver's or the secret's yes; a refusal (HostKeyMismatchError:
 * a different secret, or no secret tag to compare with); or "not yet"
 * (HostKeyCheckPendingError): the file cannot be read, which is what a VM
 * shows between sshd starting and cloud-init running the init script, or
 * the read does not finish within the executor's command timeout. The
 * reference treats that read failure (an exit status) as a boot-time failure
 * too, logged at debug.
 */
import { timingSafeEqual } from 'node:crypto';
import { isHostKeyVerificationNotImplemented } from '../cloud/errors.js';
import type { Instance } from '../cloud/types.js';
import { CommandTimeoutError, HostKeyCheckPendingError } from '../ssh/errors.js';
import { type Executor, outputExcerpt } from '../ssh/executor.js';
import { INSTANCE_SECRET_PATH, instanceSecretCommand } from '../arvados/crunch-run.js';

/** The VM is not the one the instance's tags describe (or there is nothing to check it against): the host key is refused. */
export class HostKeyMismatchError extends Error {
  override name = 'HostKeyMismatchError';
}

/**
 * Returns a verifier for the SSH executor of `instance`. `secretTag` is the
 * full tag key (`<TagKeyPrefix>InstanceSecret`); `withSudo` prefixes the read
 * when the remote user is not root (the file is root-only).
 */
/** A message from sudo itself, or from the shell not finding it. */
const SUDO_FAILED = /\bsudo: /;

export function hostKeyVerifier(
  instance: Instance,
  secretTag: string,
  withSudo: (cmd: string) => string,
): (key: Buffer, untrusted: Executor) => Promise<void> {
  return async (key, untrusted) => {
    try {
      await instance.verifyHostKey(key, untrusted);
      return;
    } catch (err) {
      if (!isHostKeyVerificationNotImplemented(err)) throw err;
    }
    const expected = instance.tags[secretTag];
    if (!expected) {
      throw new HostKeyMismatchError(`instance ${instance.id} has no ${secretTag} tag, so its host key cannot be verified`);
    }
    const result = await untrusted.execute(withSudo(instanceSecretCommand())).catch((err: unknown) => {
      // A read that never answers (a stuck disk, sudo waiting in PAM) says
      // nothing against the key: "not yet", asked again at the next probe,
      // rather than a refusal warned about as a VM impersonating ours.
      if (err instanceof CommandTimeoutError) throw new HostKeyCheckPendingError(`instance ${instance.id}: reading ${INSTANCE_SECRET_PATH} did not finish: ${err.message}`);
      throw err;
    });
    if (result.exitCode !== 0) {
      // Most often the file is not there yet. Any exit status counts, as in
      // the reference: cat's message is localised, so telling "missing"
      // from other failures by its text would be guesswork.
      const stderr = result.stderr.toString().trim();
      // sudo's own messages carry its name whatever the locale ("sudo: a
      // password is required", "sh: 1: sudo: not found"); cat's do not.
      const throughSudo = withSudo('true') !== 'true';
      const sudoRefused = throughSudo && SUDO_FAILED.test(stderr);
      throw new HostKeyCheckPendingError(
        `instance ${instance.id}: reading ${INSTANCE_SECRET_PATH} failed with exit code ${result.exitCode} (${sudoRefused ? 'sudo refused: does AdminUsername have passwordless sudo?' : 'not written by the init script yet?'}): ${outputExcerpt(result.stderr).trim()}`,
        sudoRefused,
      );
    }
    const got = Buffer.from(result.stdout.toString().trim());
    const want = Buffer.from(expected);
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      throw new HostKeyMismatchError(`instance ${instance.id}: the host's ${INSTANCE_SECRET_PATH} does not match the ${secretTag} tag`);
    }
  };
}
