// What the k6 scripts of the bench share: seat lists, the summary's statistics and the
// per-request-name figures, fresh idempotency keys.

// "first-last" seat ids, or a comma list.
export function seatIds(spec) {
  if (spec.includes('-') && !spec.includes(',')) {
    const [lo, hi] = spec.split('-').map((x) => parseInt(x, 10));
    const out = [];
    for (let s = lo; s <= hi; s++) out.push(s);
    return out;
  }
  return spec.split(',').map((x) => parseInt(x, 10));
}

export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)',
  'max'];

// Always-true thresholds: they only make k6 report each request name's own figures in the
// summary (--summary-export), which the bench reads.
export function perNameThresholds(names) {
  return Object.fromEntries(names.flatMap((n) => [
    [`http_req_duration{name:${n}}`, ['max>=0']], [`http_reqs{name:${n}}`, ['count>=0']]]));
}

export function uuid4() {
  const h = '0123456789abcdef';
  let s = '';
  for (let i = 0; i < 32; i++) s += h[Math.floor(Math.random() * 16)];
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20)}`;
}
