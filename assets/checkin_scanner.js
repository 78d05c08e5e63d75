// Camera scanning for the check-in page, in every browser that can open a camera. Where the
// browser has the BarcodeDetector API (Chrome on Android, Safari 17+) it reads the frames
// itself; elsewhere (desktop Chrome and Chromium, Firefox) a downscaled frame goes a few times a
// second to the server, which reads the QR code (POST /api/checkins/scan, zxing-cpp). Either
// way a code read is typed into the same form an usher uses by hand, so scanning, typing and
// the search by name are one check-in (same result, same audit). The same code is read once
// while it stays in front of the camera (and SAME_CODE_MS after); Stop and Scan read it again.
(function () {
  var SCAN_URL = "/api/checkins/scan";
  var EVERY_MS = 300; // a frame at most this often (one in flight at a time)
  var MAX_SIDE = 640; // pixels: enough for a ticket's QR held up to a phone, small to send
  var MAX_BYTES = 60000; // under the request layer's body limit (MAX_REQUEST_BYTES, 64 KiB)
  var SAME_CODE_MS = 2000;
  if (window.tkScanner) window.tkScanner.stop();

  // The page gives each sentence in the reader's language (data-* on #scan-status); the
  // English here is only the fallback.
  function say(key, text, reason) {
    var el = document.getElementById("scan-status");
    if (!el) return;
    var given = el.getAttribute("data-" + key);
    el.textContent = (given || text).replace("{reason}", reason || "");
    el.setAttribute("data-state", key);
  }
  function submitCode(value) {
    var input = document.getElementById("checkin-code");
    var button = document.getElementById("checkin-submit");
    if (!input || !button) return;
    var setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    setter.call(input, value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    button.click();
  }
  function cameraError(e) {
    var name = (e && e.name) || "Error";
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      say("denied", "Camera access was refused. Allow the camera for this site in the browser's settings, or type the code.");
    } else if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
      say("no-device", "No camera found; type the code instead.");
    } else if (name === "NotReadableError" || name === "TrackStartError") {
      say("busy", "The camera is in use by another app; close it, or type the code.");
    } else {
      say("unavailable", "Camera unavailable ({reason}); type the code instead.", name);
    }
  }
  function toBlob(canvas, quality) {
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); });
  }

  window.tkScanner = {
    stream: null,
    timer: null,
    last: "",
    lastAt: 0,
    // A code read: checked in once, then ignored while it stays in view.
    found: function (value) {
      var now = Date.now();
      if (!value) return;
      if (value === this.last && now - this.lastAt < SAME_CODE_MS) {
        this.lastAt = now;
        return;
      }
      this.last = value;
      this.lastAt = now;
      submitCode(value);
    },
    start: async function () {
      this.stop();
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        // Browsers offer the camera only to https pages (and localhost).
        if (window.isSecureContext === false) {
          say("insecure", "The camera opens only on a secure (https) page; type the code instead.");
        } else {
          say("no-camera", "This browser cannot open the camera here; type the code instead.");
        }
        return;
      }
      var video = document.getElementById("scan-video");
      if (!video) return;
      try {
        this.stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: "environment" }, audio: false,
        });
        video.srcObject = this.stream;
        await video.play();
      } catch (e) {
        this.stop();
        cameraError(e);
        return;
      }
      var read = await this.reader(video);
      var self = this, busy = false;
      say("point", "Point the camera at a ticket's QR code.");
      this.timer = setInterval(async function () {
        if (!document.body.contains(video)) { self.stop(); return; } // the page was left
        if (busy || video.readyState < 2) return;
        busy = true;
        try {
          self.found(await read());
        } catch (e) {
          if (e && e.stopScanning) { self.stop(); say(e.key, e.text); }
        }
        busy = false;
      }, EVERY_MS);
    },
    // A function that reads one frame of `video`: the browser's BarcodeDetector where it has
    // one for QR codes, else the server.
    reader: async function (video) {
      if ("BarcodeDetector" in window) {
        try {
          var formats = await window.BarcodeDetector.getSupportedFormats();
          if (formats.indexOf("qr_code") >= 0) {
            var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
            return async function () {
              var found = await detector.detect(video);
              return found.length ? found[0].rawValue : "";
            };
          }
        } catch (e) { /* fall through to the server */ }
      }
      var canvas = document.createElement("canvas");
      var quality = 0.7;
      return async function () {
        var w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) return "";
        var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
        canvas.width = Math.round(w * scale);
        canvas.height = Math.round(h * scale);
        canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
        var blob = await toBlob(canvas, quality);
        if (!blob) return "";
        if (blob.size > MAX_BYTES) { quality = Math.max(0.3, quality - 0.1); return ""; }
        var r = await fetch(SCAN_URL, {
          method: "POST", body: blob, credentials: "same-origin",
          headers: { "Content-Type": "image/jpeg" },
        });
        if (r.status === 401 || r.status === 403) {
          throw { stopScanning: true, key: "signed-out",
                  text: "Your session has ended; sign in again to scan." };
        }
        if (r.status === 413) { quality = Math.max(0.3, quality - 0.1); return ""; }
        if (!r.ok) return "";
        var body = await r.json();
        return body.code || "";
      };
    },
    stop: function () {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      if (this.stream) this.stream.getTracks().forEach(function (t) { t.stop(); });
      this.stream = null;
      this.last = "";
      this.lastAt = 0;
      var video = document.getElementById("scan-video");
      if (video) video.srcObject = null;
    },
  };
})();
