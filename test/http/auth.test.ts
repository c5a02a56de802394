/**
 * Where and how the management API finds the tokens a request offers, as
 * the reference's LoadTokensFromHTTPRequest: trimmed, Basic in any case and
 * strict base64, the cookie padded base64url; undecodable ones offer nothing
 * (so the answer is 401, not 403).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { requestTokens, requireToken, strictBase64 } from '../../src/http/auth.js';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const tokens = (headers: Record<string, string>, query = ''): string[] => requestTokens(req(headers), new URLSearchParams(query));
const goBase64 = (s: string): string => Buffer.from(s).toString('base64');
const goBase64URL = (s: string): string => goBase64(s).replace(/\+/g, '-').replace(/\//g, '_');

describe('management API tokens', () => {
  it('trims white space around each token, wherever it comes from', () => {
    assert.deepEqual(tokens({ authorization: 'Bearer  tok \t' }), ['tok']);
    assert.deepEqual(tokens({ authorization: 'OAuth2 tok ' }), ['tok']);
    assert.deepEqual(tokens({ authorization: `Basic ${goBase64('user: tok ')}` }), ['tok']);
    assert.deepEqual(tokens({}, 'api_token=%20a%20&api_token=b'), ['a', 'b']);
    assert.deepEqual(tokens({ cookie: `x=1; arvados_api_token=${goBase64URL(' c\n')}` }), ['c']);
    assert.deepEqual(requireToken('tok', tokens({ authorization: 'Bearer tok ' })), { ok: true });
  });

  it('takes the Basic scheme in any case, but only strict base64 with a colon', () => {
    assert.deepEqual(tokens({ authorization: `basic ${goBase64('u:p')}` }), ['p']);
    assert.deepEqual(tokens({ authorization: `BASIC ${goBase64('u:p')}` }), ['p']);
    assert.deepEqual(tokens({ authorization: `Basic ${goBase64('no colon')}` }), []);
    assert.deepEqual(tokens({ authorization: 'Basic !!not base64!!' }), []);
    // Padding is required (Node alone would decode this).
    assert.deepEqual(tokens({ authorization: `Basic ${goBase64('u:p1').replace(/=+$/, '')}` }), []);
    // Nothing offered: 401, not 403.
    assert.deepEqual(requireToken('tok', tokens({ authorization: 'Basic ***' })), { ok: false, status: 401, message: 'Unauthorized' });
  });

  it('takes Bearer and OAuth2 only in that case, as the reference (unlike Basic): another case offers no token', () => {
    for (const scheme of ['bearer', 'BEARER', 'oauth2', 'Oauth2']) assert.deepEqual(tokens({ authorization: `${scheme} tok` }), [], scheme);
    assert.deepEqual(requireToken('tok', tokens({ authorization: 'bearer tok' })), { ok: false, status: 401, message: 'Unauthorized' });
  });

  it('takes the cookie only as padded base64url', () => {
    const token = 'mgmt0123456789abcdef0123456789abcdef01234567';
    assert.deepEqual(tokens({ cookie: `arvados_api_token=${goBase64URL(token)}` }), [token]);
    assert.deepEqual(tokens({ cookie: `arvados_api_token=${Buffer.from(token).toString('base64url')}` }), []);
    assert.deepEqual(tokens({ cookie: 'arvados_api_token=%%%' }), []);
    // Standard base64's + and / are not base64url: no token, so 401 as in the reference, not 403.
    assert.deepEqual(tokens({ cookie: 'arvados_api_token=+/+/' }), []);
    assert.deepEqual(tokens({ cookie: 'arvados_api_token=' }), []);
  });

  it('decodes base64 as Go does: padding by length, line breaks ignored, nothing outside the alphabet', () => {
    const std = /^[A-Za-z0-9+/]*$/;
    assert.equal(strictBase64('YWI=', std)?.toString(), 'ab');
    assert.equal(strictBase64('YWJj', std)?.toString(), 'abc');
    assert.equal(strictBase64('YQ==', std)?.toString(), 'a');
    assert.equal(strictBase64('YW\r\nJj', std)?.toString(), 'abc');
    assert.equal(strictBase64('', std)?.toString(), '');
    for (const bad of ['YQ=', 'YWJ', 'YWJj=', 'Y', 'YW Jj', 'YW_j', '=YWJ']) assert.equal(strictBase64(bad, std), undefined, bad);
  });
});
