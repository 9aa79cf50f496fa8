/**
 * Redis glob matching (the rules of `stringmatchlen`): `*`, `?`, `[abc]`,
 * `[^a]`, `[a-z]` and `\` escapes. Used for SCAN MATCH and PSUBSCRIBE on
 * backends that are not Redis.
 */
export function matchGlob(pattern: string, subject: string): boolean {
  return matchFrom(pattern, 0, subject, 0);
}

function matchFrom(p: string, pi: number, s: string, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi];
    switch (c) {
      case '*': {
        while (p[pi + 1] === '*') pi++;
        if (pi + 1 === p.length) return true;
        for (let k = si; k <= s.length; k++) {
          if (matchFrom(p, pi + 1, s, k)) return true;
        }
        return false;
      }
      case '?':
        if (si >= s.length) return false;
        si++;
        pi++;
        break;
      case '[': {
        if (si >= s.length) return false;
        pi++;
        const not = p[pi] === '^';
        if (not) pi++;
        let matched = false;
        const ch = s[si] as string;
        for (;;) {
          if (pi >= p.length) {
            pi--; // Redis: an unterminated class ends at the pattern end
            break;
          }
          if (p[pi] === '\\' && pi + 2 < p.length) {
            pi++;
            if (p[pi] === ch) matched = true;
          } else if (p[pi] === ']') {
            break;
          } else if (p[pi + 1] === '-' && pi + 2 < p.length) {
            let start = p[pi] as string;
            let end = p[pi + 2] as string;
            if (start > end) [start, end] = [end, start];
            if (ch >= start && ch <= end) matched = true;
            pi += 2;
          } else if (p[pi] === ch) {
            matched = true;
          }
          pi++;
        }
        if (not) matched = !matched;
        if (!matched) return false;
        pi++;
        si++;
        break;
      }
      case '\\':
        if (pi + 1 < p.length) pi++;
        if (si >= s.length || p[pi] !== s[si]) return false;
        pi++;
        si++;
        break;
      default:
        if (si >= s.length || c !== s[si]) return false;
        pi++;
        si++;
    }
  }
  return si === s.length;
}
