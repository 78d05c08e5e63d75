// The original system's own load scenario (its day04_hold_order.js), for k6.
//
// Each virtual user loops: pick one of the event's seats at random and hold it for 30 s. A 409,
// 410 or 422 ends the iteration and the next starts at once (no think time). On 201: sleep a
// random 0-29 s, then 70% order it (a fresh Idempotency-Key), 30% release it. No payment.
// As in the original, only 5xx count as failures and p95 is over every request. Our one change:
// each virtual user sends its own X-Caller-Id.
//
// Point it at any deployment (TRUST_CALLER_ID=true there, or pass signed tokens yourself):
//   k6 run -e BASE_URL=https://tickets.example.com -e EVENT_ID=1 -e SEATS=1-100 \
//          -e VUS=1000 -e DURATION=60s bench/k6/original.js
//
// Environment: BASE_URL, EVENT_ID, SEATS ("first-last" seat ids, or a comma list), VUS,
// DURATION, GRACEFUL_STOP (35s: lets sleeping users order or release), HOLD_SECONDS (30),
// SLEEP_MAX_S (29), ORDER_RATIO (0.7), CALLER_PREFIX.
import http from 'k6/http';
import { seatIds, uuid4, SUMMARY_TREND_STATS, perNameThresholds } from './lib.js';
import { sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:3000';
const EVENT_ID = parseInt(__ENV.EVENT_ID || '1', 10);
const HOLD_SECONDS = parseInt(__ENV.HOLD_SECONDS || '30', 10);
const SLEEP_MAX_S = parseFloat(__ENV.SLEEP_MAX_S || '29');
const ORDER_RATIO = parseFloat(__ENV.ORDER_RATIO || '0.7');
const PREFIX = __ENV.CALLER_PREFIX || 'k6';

const SEATS = seatIds(__ENV.SEATS || '1-100');
const NAMES = ['POST /api/reservations', 'POST /api/orders', 'DELETE /api/reservations/{e}/{s}'];

export const options = {
  scenarios: {
    original: {
      executor: 'constant-vus',
      vus: parseInt(__ENV.VUS || '1000', 10),
      duration: __ENV.DURATION || '60s',
      gracefulStop: __ENV.GRACEFUL_STOP || '35s',
    },
  },
  // Only 5xx are failures (the original's rule): 409/410/422/429 are answers.
  summaryTrendStats: SUMMARY_TREND_STATS,
  thresholds: perNameThresholds(NAMES),
  discardResponseBodies: true,
  noConnectionReuse: false,
};

http.setResponseCallback(http.expectedStatuses({ min: 100, max: 499 }));

const status2xx = new Counter('status_2xx');
const status409 = new Counter('status_409');
const status410 = new Counter('status_410');
const status422 = new Counter('status_422');
const status429 = new Counter('status_429');
const status500 = new Counter('status_500');
const status503 = new Counter('status_503');
const status5xx = new Counter('status_5xx');
const statusOther = new Counter('status_other');
const holds201 = new Counter('holds_201');
const orders201 = new Counter('orders_201');
const releases204 = new Counter('releases_204');
const timeouts = new Counter('timeouts');
const serverErrors = new Rate('server_errors');

function count(res) {
  const s = res.status;
  serverErrors.add(s >= 500 || s === 0);
  if (s === 0) timeouts.add(1);
  else if (s < 300) status2xx.add(1);
  else if (s === 409) status409.add(1);
  else if (s === 410) status410.add(1);
  else if (s === 422) status422.add(1);
  else if (s === 429) status429.add(1);
  else if (s === 503) { status503.add(1); status5xx.add(1); }
  else if (s === 500) { status500.add(1); status5xx.add(1); }
  else if (s >= 500) status5xx.add(1);
  else statusOther.add(1);
}


export default function () {
  const caller = `${PREFIX}-${__VU}`;
  const headers = { 'Content-Type': 'application/json', 'X-Caller-Id': caller };
  const seat = SEATS[Math.floor(Math.random() * SEATS.length)];
  const res = http.post(`${BASE}/api/reservations`,
    JSON.stringify({ eventId: EVENT_ID, seatId: seat, holdSeconds: HOLD_SECONDS }),
    { headers, tags: { name: 'POST /api/reservations' } });
  count(res);
  if (res.status !== 201) return;
  holds201.add(1);
  sleep(Math.random() * SLEEP_MAX_S);
  if (Math.random() < ORDER_RATIO) {
    const r = http.post(`${BASE}/api/orders`,
      JSON.stringify({ eventId: EVENT_ID, seatIds: [seat] }),
      { headers: { ...headers, 'Idempotency-Key': uuid4() }, tags: { name: 'POST /api/orders' } });
    count(r);
    if (r.status === 201 || r.status === 200) orders201.add(1);
  } else {
    const r = http.del(`${BASE}/api/reservations/${EVENT_ID}/${seat}`, null,
      { headers, tags: { name: 'DELETE /api/reservations/{e}/{s}' } });
    count(r);
    if (r.status === 204) releases204.add(1);
  }
}
