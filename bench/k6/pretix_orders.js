// A whole purchase on pretix's REST API, for k6, counted exactly as bench/k6/purchase.js counts
// ours: `purchase_ms` from the first request to the answer that confirms a paid order,
// `confirmed` the purchases that ended with one. A closed loop (no think time) on one event.
//
// MODE=orders: one request, POST /api/v1/organizers/{o}/events/{e}/orders/ with status "p"
//   (created as paid, payment provider "manual"). pretix's own shortcut for an external
//   checkout: it locks the quota, but skips per-order limits and price checks.
// MODE=cart: the reservation first, as ours holds a seat: POST .../cartpositions/ (a cart
//   position reserves quota for the cart's lifetime), then POST .../orders/ with the same
//   position and `consume_carts`, created as paid.
// Every order request carries an X-Idempotency-Key; every buyer is the same valid address
// (pretix validates e-mail addresses strictly).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8345 -e ORGANIZER=bench -e EVENT=concert -e ITEM=1 \
//          -e TOKEN=... -e VUS=50 -e DURATION=60s -e MODE=orders bench/k6/pretix_orders.js
//
// Environment: BASE_URL, ORGANIZER, EVENT, ITEM, PRICE ("50.00"), TOKEN, MODE (orders | cart),
// VUS, DURATION, GRACEFUL_STOP (10s), TIMEOUT (30s), ITERATIONS.
import http from 'k6/http';
import { uuid4, SUMMARY_TREND_STATS, perNameThresholds } from './lib.js';
import { Counter, Trend } from 'k6/metrics';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8345';
const EVENT_URL = `${BASE}/api/v1/organizers/${__ENV.ORGANIZER || 'bench'}/events/${__ENV.EVENT || 'concert'}`;
const ITEM = parseInt(__ENV.ITEM || '1', 10);
const PRICE = __ENV.PRICE || '50.00';
const MODE = __ENV.MODE || 'orders';
const TIMEOUT = __ENV.TIMEOUT || '30s';
const VUS = parseInt(__ENV.VUS || '50', 10);
const AUTH = { 'Content-Type': 'application/json', Authorization: `Token ${__ENV.TOKEN || ''}` };
const NAMES = ['POST cartpositions/', 'POST orders/'];

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
const status409 = new Counter('status_409'); // pretix: a lock not had within 3 s
const timeouts = new Counter('timeouts');

function count(res) {
  if (res.status === 0) timeouts.add(1);
  else if (res.status >= 500) status5xx.add(1);
  else if (res.status >= 400) {
    status4xx.add(1);
    if (res.status === 409) status409.add(1);
  }
}


function post(path, body, headers, name) {
  const res = http.post(`${EVENT_URL}/${path}`, JSON.stringify(body),
    { headers, tags: { name }, timeout: TIMEOUT });
  count(res);
  return res;
}

export default function () {
  const t0 = Date.now();
  const done = (ok) => {
    const ms = Date.now() - t0;
    purchaseMs.add(ms);
    if (ok) { confirmed.add(1); confirmedMs.add(ms); } else failedPurchases.add(1);
  };
  const order = {
    email: 'buyer@example.com', status: 'p', payment_provider: 'manual', send_email: false,
    locale: 'en', positions: [{ item: ITEM, price: PRICE }],
  };
  if (MODE === 'cart') {
    const cartId = `${uuid4()}@api`;
    const cart = post('cartpositions/', { item: ITEM, price: PRICE, cart_id: cartId }, AUTH,
      NAMES[0]);
    if (cart.status !== 201) { done(false); return; }
    order.consume_carts = [cartId];
  }
  const res = post('orders/', order, { ...AUTH, 'X-Idempotency-Key': uuid4() }, NAMES[1]);
  done(res.status === 201 && res.json('status') === 'p');
}
