/**
 * Request IDs as Arvados makes them: `req-` and 20 random characters of
 * [0-9a-z]. The controller client sends a new one with each call (the same
 * on its retries), and the management server gives one to each request that
 * came without.
 */
import { randomInt } from 'node:crypto';

const ID_CHARS = '0123456789abcdefghijklmnopqrstuvwxyz';

export function newRequestId(): string {
  let id = 'req-';
  for (let i = 0; i < 20; i++) id += ID_CHARS[randomInt(ID_CHARS.length)];
  return id;
}
