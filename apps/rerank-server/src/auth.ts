import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer-key check in constant time: both sides are hashed to a fixed length and every configured
 * key is compared, so neither the key's length nor which key matched shows in the timing.
 */
export function bearerChecker(keys: readonly string[]): (header: string | undefined) => boolean {
  const digests = keys.map((k) => createHash('sha256').update(k).digest());
  return (header) => {
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
    const given = createHash('sha256')
      .update(m?.[1]?.trim() ?? '')
      .digest();
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    return ok && m !== null;
  };
}
