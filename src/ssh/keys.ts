import ssh2 from 'ssh2';

const { utils } = ssh2;

/**
 * A fresh ed25519 key pair in OpenSSH format: the dispatcher's throwaway
 * key for the lame cloud, a lame VM's host key, or a client key in tests.
 *
 * Use this rather than ssh2's `utils.generateKeyPairSync('ed25519')` directly:
 * ssh2 1.17 drops a leading zero byte of the public key (it encodes it like
 * an mpint), so about 1 pair in 256 comes out malformed and `parseKey`
 * rejects it ("Malformed OpenSSH private key"). We generate again until the
 * pair parses back and both halves agree.
 */
export function generateSshKeyPair(): { private: string; public: string } {
  for (let attempt = 0; ; attempt++) {
    const pair = utils.generateKeyPairSync('ed25519');
    const priv = utils.parseKey(pair.private);
    const pub = utils.parseKey(pair.public);
    if (!(priv instanceof Error) && !(pub instanceof Error) && !Array.isArray(priv) && !Array.isArray(pub)) {
      if (priv.getPublicSSH().equals(pub.getPublicSSH())) return { private: pair.private, public: pair.public };
    }
    // 1 in 256 per attempt: ten failures in a row means something else is wrong.
    if (attempt >= 10) throw new Error('ssh2 keeps generating unparseable ed25519 keys');
  }
}


/**
 * The OpenSSH public key line (`ssh-ed25519 AAAA...`) of a private key, as a
 * VM's authorized_keys wants it. Throws naming what is wrong when the text is
 * not a usable private key (encrypted keys are refused: the daemon runs
 * unattended and has no passphrase to give).
 */
export function publicKeyLine(privateKey: string): string {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`cannot parse the private key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) throw new Error('the key is not a private key');
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}
