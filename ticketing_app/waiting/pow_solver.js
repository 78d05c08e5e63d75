// The waiting room's bot check, solved in the browser: find a counter such that
// SHA-256(challenge || counter as 8 bytes big-endian) starts with `bits` zero bits.
// The server checks an answer with one hash (domain/pow.py); finding one takes about 2^bits.
// Hashing uses WebCrypto. The search runs in Web Workers made from a Blob, so the page stays
// responsive; where workers are not allowed it runs on the page, yielding between batches.
// This file is one expression: an async function (challenge, bits, options) -> result.
async (challenge, bits, options) => {
  const opts = options || {};
  const BATCH = opts.batch || 1024;
  const START = opts.start || 0; // where the search begins (tests: counters above 2^32)

  // The search itself; also the worker's code (via toString), so both paths are one.
  async function search(challenge, bits, first, stride, batch, report) {
    const prefix = new TextEncoder().encode(challenge);
    const n = prefix.length;
    const msg = new Uint8Array(n + 8);
    msg.set(prefix);
    const full = bits >> 3;
    const mask = (0xff00 >> (bits & 7)) & 0xff;
    let tried = 0;
    for (let base = first; base < Number.MAX_SAFE_INTEGER; base += stride) {
      const jobs = new Array(batch);
      for (let i = 0; i < batch; i++) {
        const c = base + i;
        const hi = Math.floor(c / 4294967296);
        const lo = c >>> 0;
        msg[n] = hi >>> 24; msg[n + 1] = (hi >>> 16) & 0xff;
        msg[n + 2] = (hi >>> 8) & 0xff; msg[n + 3] = hi & 0xff;
        msg[n + 4] = lo >>> 24; msg[n + 5] = (lo >>> 16) & 0xff;
        msg[n + 6] = (lo >>> 8) & 0xff; msg[n + 7] = lo & 0xff;
        // WebCrypto copies its input before returning, so one buffer serves every call.
        jobs[i] = crypto.subtle.digest("SHA-256", msg);
      }
      const out = await Promise.all(jobs);
      tried += batch;
      for (let i = 0; i < batch; i++) {
        const h = new Uint8Array(out[i]);
        let k = 0;
        while (k < full && h[k] === 0) k++;
        if (k === full && (h[full] & mask) === 0) return { counter: base + i, tried };
      }
      if (report && !report(tried)) return null;
    }
    return null;
  }

  if (!(globalThis.crypto && crypto.subtle)) {
    return { error: "nocrypto" };
  }
  const started = performance.now();
  const expected = Math.pow(2, bits);
  const bar = typeof document === "undefined" ? null
    : document.getElementById(opts.progressId || "pow-progress");
  const hashes = [];
  let done = false;
  const report = (k) => (tried) => {
    hashes[k] = tried;
    if (bar) {
      const sum = hashes.reduce((a, b) => a + (b || 0), 0);
      // Expected work, not a promise: the bar slows near the end instead of overshooting.
      bar.value = Math.round(100 * (1 - Math.exp(-sum / expected)));
    }
    return !done;
  };
  const finish = (found, k, mode, workers) => {
    done = true;
    if (bar) bar.value = 100;
    hashes[k] = found.tried;
    const tried = hashes.reduce((a, b) => a + (b || 0), 0);
    return { counter: found.counter, ms: Math.round(performance.now() - started),
             hashes: tried, mode, workers };
  };

  const workers = [];
  const run = async () => {
    const threads = (globalThis.navigator && navigator.hardwareConcurrency) || 1;
    const cores = Math.max(1, Math.min(opts.maxWorkers || 1, threads));
    if (!opts.inline && typeof Worker !== "undefined") {
      const code = "const search = " + search.toString() + ";\n" +
        "onmessage = async (e) => { const d = e.data; let last = 0;\n" +
        "  const r = await search(d.challenge, d.bits, d.first, d.stride, d.batch, (t) => {\n" +
        "    if (t - last >= 4096) { last = t; postMessage({ tried: t }); } return true; });\n" +
        "  postMessage({ found: r }); };";
      let url = null;
      try {
        url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
        for (let k = 0; k < cores; k++) workers.push(new Worker(url));
      } catch (e) {
        workers.forEach((w) => w.terminate());
        workers.length = 0;
      }
      if (url) URL.revokeObjectURL(url);
    }
    if (workers.length) {
      const hit = await new Promise((resolve) => {
        let failed = 0;
        workers.forEach((w, k) => {
          const tick = report(k);
          w.onmessage = (e) => {
            if (e.data.found) resolve({ found: e.data.found, k });
            else tick(e.data.tried);
          };
          w.onerror = () => { if (++failed === workers.length) resolve(null); };
          w.postMessage({ challenge, bits, first: START + k * BATCH,
                          stride: workers.length * BATCH,
                          batch: BATCH });
        });
      });
      workers.forEach((w) => w.terminate());
      if (hit) return finish(hit.found, hit.k, "worker", workers.length);
      hashes.length = 0;
    }
    const found = await search(challenge, bits, START, BATCH, BATCH, report(0));
    return found ? finish(found, 0, "inline", 1) : { error: "notfound" };
  };
  // A device that cannot finish before the challenge expires stops and says so; the page
  // then offers to try again with a fresh challenge.
  let timer = null;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ error: "timeout" }), opts.timeoutMs || 100000);
  });
  const result = await Promise.race([run(), timeout]);
  done = true;
  clearTimeout(timer);
  workers.forEach((w) => w.terminate());
  return result;
}
