// A whole purchase on our REST API, for k6: hold -> order -> pay, a fresh buyer per iteration,
// in a closed loop (no think time) on one event. Counted exactly as bench/k6/pretix_orders.js
// counts pretix's purchases, so the two runs compare: `purchase_ms` is the time from the first
// request to the confirmation, `confirmed` the purchases that ended with a paid order.
//
// PICK=spread (the default): seats never collide: virtual user v takes the seats v, v + VUS,
// v + 2 VUS, ... of the list, so every hold is for a free seat (the comparison is of the
// purchase path, not of contention; pretix sells from one quota with no seat to choose).
// PICK=random: any seat of the list, collisions and all (a sell-out: refusals are failures).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e EVENT_ID=1 -e SEATS=1-20000 -e VUS=50 \
//          -e DURATION=60s bench/k6/purchase.js
//
// Environment: BASE_URL, EVENT_ID, SEATS ("first-last" or a comma list), VUS, DURATION,
// GRACEFUL_STOP (10s), HOLD_SECONDS (120), BUYER_PREFIX, TIMEOUT (30s), PICK (spread |
// random), ITERATIONS.
import http from 'k6/http';
import { seatIds, uuid4, SUMMARY_TREND_STATS, perNameThresholds } from './lib.js';
import { sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:3000';
const EVENT_ID = parseInt(__ENV.EVENT_ID || '1', 10);
const VUS = parseInt(__ENV.VUS || '50', 10);
const HOLD_SECONDS = parseInt(__ENV.HOLD_SECONDS || '120', 10);
const PREFIX = __ENV.BUYER_PREFIX || 'k6buy';
const TIMEOUT = __ENV.TIMEOUT || '30s';
const PICK = __ENV.PICK || 'spread';
const NAMES = ['POST /api/reservations', 'POST /api/orders', 'POST /api/payments/authorize'];

const SEATS = seatIds(__ENV.SEATS || '1-20000');

// ITERATIONS set: that many purchase attempts shared by the VUs, however long they take (at
// most DURATION): a sell-out that must run to its end, nothing abandoned in flight.
const ITERATIONS = parseInt(__ENV.ITERATIONS || '0', 10);

export const options = {
  scenarios: {
    purchase: ITERATIONS > 0
      ? { executor: 'shared-iterations', vus: VUS, iterations: ITERATIONS,
        maxDuration: __ENV.DURATION || '120s' }
      : { executor: 'constant-vus', vus: VUS, duration: __ENV.DURATION || '60s',
        gracefulStop: __ENV.GRACEFUL_STOP || '10s' },
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  thresholds: perNameThresholds(NAMES),
  discardResponseBodies: false,
};

http.setResponseCallback(http.expectedStatuses({ min: 100, max: 499 }));

const purchaseMs = new Trend('purchase_ms', true); // every attempt, failed ones included
const confirmedMs = new Trend('confirmed_ms', true); // purchases that ended paid
const confirmed = new Counter('confirmed');
const failedPurchases = new Counter('failed_purchases');
const status5xx = new Counter('status_5xx');
const status4xx = new Counter('status_4xx');
const timeouts = new Counter('timeouts');
const exhausted = new Counter('seats_exhausted');

function count(res) {
  if (res.status === 0) timeouts.add(1);
  else if (res.status >= 500) status5xx.add(1);
  else if (res.status >= 400) status4xx.add(1);
}


function post(path, body, headers, name) {
  const res = http.post(`${BASE}${path}`, JSON.stringify(body),
    { headers, tags: { name }, timeout: TIMEOUT });
  count(res);
  return res;
}

export default function () {
  const index = PICK === 'random' ? Math.floor(Math.random() * SEATS.length)
    : (__VU - 1) + VUS * __ITER;
  if (index >= SEATS.length) {
    exhausted.add(1); // the venue is sold: say so, and do not spin
    sleep(1);
    return;
  }
  const seat = SEATS[index];
  const headers = { 'Content-Type': 'application/json', 'X-Caller-Id': `${PREFIX}-${__VU}-${__ITER}` };
  const t0 = Date.now();
  const done = (ok) => {
    const ms = Date.now() - t0;
    purchaseMs.add(ms);
    if (ok) { confirmed.add(1); confirmedMs.add(ms); } else failedPurchases.add(1);
  };
  const hold = post('/api/reservations',
    { eventId: EVENT_ID, seatId: seat, holdSeconds: HOLD_SECONDS }, headers, NAMES[0]);
  if (hold.status !== 201) { done(false); return; }
  const order = post('/api/orders', { eventId: EVENT_ID, seatIds: [seat] },
    { ...headers, 'Idempotency-Key': uuid4() }, NAMES[1]);
  if (order.status !== 201 && order.status !== 200) { done(false); return; }
  const orderId = order.json('orderId');
  const pay = post('/api/payments/authorize', { orderId }, headers, NAMES[2]);
  done(pay.status === 200 && pay.json('status') === 'success');
}
