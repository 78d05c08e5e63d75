// Camera scanning for the check-in page, where the browser has the BarcodeDetector API
// (Chrome on Android, Safari 17+, ...). A detected QR code is typed into the same form an
// usher uses by hand, so both paths are one. Elsewhere the page says so; typing always works.
(function () {
  // The page gives each sentence in the reader's language (data-* on #scan-status); the
  // English here is only the fallback.
  function say(key, text, reason) {
    var el = document.getElementById("scan-status");
    if (!el) return;
    var given = el.getAttribute("data-" + key);
    el.textContent = (given || text).replace("{reason}", reason || "");
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
  window.tkScanner = {
    stream: null,
    timer: null,
    start: async function () {
      if (!("BarcodeDetector" in window) || !navigator.mediaDevices) {
        say("no-camera", "This browser cannot scan with the camera; type the code instead.");
        return;
      }
      try {
        this.stop();
        var video = document.getElementById("scan-video");
        this.stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: "environment" }, audio: false,
        });
        video.srcObject = this.stream;
        await video.play();
        var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        var last = "", lastAt = 0, busy = false;
        say("point", "Point the camera at a ticket's QR code.");
        this.timer = setInterval(async function () {
          if (busy || video.readyState < 2) return;
          busy = true;
          try {
            var found = await detector.detect(video);
            if (found.length) {
              var value = found[0].rawValue, now = Date.now();
              if (value !== last || now - lastAt > 3000) {
                last = value; lastAt = now;
                submitCode(value);
              }
            }
          } catch (e) { /* a frame that could not be read */ }
          busy = false;
        }, 250);
      } catch (e) {
        say("unavailable", "Camera unavailable ({reason}); type the code instead.", e.name);
      }
    },
    stop: function () {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      if (this.stream) this.stream.getTracks().forEach(function (t) { t.stop(); });
      this.stream = null;
    },
  };
})();
