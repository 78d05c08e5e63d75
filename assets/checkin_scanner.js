// Camera scanning for the check-in page, where the browser has the BarcodeDetector API
// (Chrome on Android, Safari 17+, ...). A detected QR code is typed into the same form an
// usher uses by hand, so both paths are one. Elsewhere the page says so; typing always works.
(function () {
  function say(text) {
    var el = document.getElementById("scan-status");
    if (el) el.textContent = text;
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
        say("This browser cannot scan with the camera; type the code instead.");
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
        say("Point the camera at a ticket's QR code.");
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
        say("Camera unavailable (" + e.name + "); type the code instead.");
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
