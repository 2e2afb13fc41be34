// omnistore camera scanner: a <dialog> with the live camera that reads EAN-13 barcodes and QR codes.
//
// Any element with `data-scan-open` opens the dialog (#scanner, templates/_components/_scanner.html).
// What happens with a code is the opener's choice:
//   data-scan-target="/pickups/scan?code={code}"  where to go ({code} is replaced, URL-encoded);
//                                                 default: the dialog's data-default-target (stock scan)
//   data-scan-links="target"                      send web addresses to the target too; by default a QR
//                                                 code holding an address of this site opens it, and an
//                                                 address of another site is refused
// Before any of that, a cancelable `scanner:decoded` event ({value, format}) bubbles from the opener: a
// page that calls preventDefault() handles the code itself (the dialog closes either way).
//
// Decoding: the browser's BarcodeDetector where it reads both formats, else the vendored ZXing library in
// a Web Worker — and this very file is that worker (see the end), so the page never loads the library
// unless it needs it. Frames are read from the <video> through a small canvas about 8 times a second (a slow
// device rests at least as long as a frame took); after the ~10 s hint the worker tries harder.
// The camera stops when the dialog closes or the page is hidden. No inline scripts, no eval (strict CSP).
(function () {
  "use strict";

  if (typeof document === "undefined") {  // loaded with new Worker(...): decode frames
    decoderWorker(self);
    return;
  }

  var SCRIPT_URL = document.currentScript ? document.currentScript.src : null;
  var FRAME_MS = 120;          // ~8 frames a second
  var MAX_SIDE = 800;          // frames are scaled down to this before decoding
  var CONFIRM_MS = 1500;       // a barcode counts once two frames agree within this time
  var FORMATS = ["ean_13", "qr_code"];

  var current = null;          // the open scan, or null
  var decoderPromise = null;   // one decoder per page, made on first use
  var audio = null;

  // --- Opening and closing ---------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var opener = target && target.closest("[data-scan-open]");
    if (opener) { event.preventDefault(); open(opener); return; }
    if (!current || !target) { return; }
    if (target.closest("[data-scanner-close]")) { close(); }
    else if (target.closest("[data-scanner-torch]")) { toggleTorch(current); }
    else if (target.closest("[data-scanner-flip]")) { flip(current); }
    else if (target.closest("[data-scanner-retry]")) { current.facing = "environment"; current.deviceId = null; start(current); }
    else if (target.closest("[data-scanner-search]")) { close(); focusSearch(); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!current || !form.matches || !form.matches("[data-scanner-manual]")) { return; }
    event.preventDefault();
    typed(current, form);
  });

  function open(opener) {
    var dialog = document.getElementById("scanner");
    if (!dialog || dialog.open) { return; }
    var s = {
      dialog: dialog, opener: opener, video: dialog.querySelector("video"), stream: null, facing: "environment",
      deviceId: null, torch: false, generation: 0, loopTimer: null, hintTimer: null, seen: null, seenAt: 0
    };
    current = s;
    dialog.addEventListener("close", onClose);
    dialog.classList.remove("has-problem", "is-mirrored");
    show(s, "[data-scanner-problem]", false);
    show(s, "[data-scanner-torch]", false);
    show(s, "[data-scanner-flip]", false);
    manualError(s, "");
    var input = dialog.querySelector("[data-scanner-manual] input");
    if (input) { input.value = ""; }
    dialog.showModal();
    wakeAudio();
    start(s);
  }

  function close() {
    var s = current;
    stopAll();
    if (s && s.dialog.open) { s.dialog.close(); }
  }

  function onClose(event) {
    event.currentTarget.removeEventListener("close", onClose);
    if (current && current.dialog === event.currentTarget) { stopAll(); }
  }

  function stopAll() {
    var s = current;
    current = null;
    if (s) { stopCamera(s); }
  }

  // Battery and privacy: no camera while the page is hidden; back on when it shows again.
  document.addEventListener("visibilitychange", function () {
    if (!current) { return; }
    if (document.visibilityState === "hidden") { stopCamera(current); }
    else if (current.dialog.open && !current.stream && !current.dialog.classList.contains("has-problem")) {
      start(current);
    }
  });
  window.addEventListener("pagehide", close);
  document.addEventListener("htmx:beforeSwap", function (event) {  // boosted navigation replaces the dialog
    if (current && event.detail.target && event.detail.target.contains(current.dialog)) { close(); }
  });

  // --- The camera ------------------------------------------------------------------------------------

  function start(s) {
    stopCamera(s);
    var generation = ++s.generation;
    s.dialog.classList.remove("has-problem");
    show(s, "[data-scanner-problem]", false);
    status(s, msg(s, "starting"));
    if (!window.isSecureContext) { return problem(s, "insecure"); }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return problem(s, "nocamera"); }
    var video = s.deviceId ? { deviceId: { exact: s.deviceId } } : { facingMode: { ideal: s.facing } };
    video.width = { ideal: 1280 };
    video.height = { ideal: 720 };
    navigator.mediaDevices.getUserMedia({ audio: false, video: video }).then(function (stream) {
      if (current !== s || generation !== s.generation || document.visibilityState === "hidden") {
        stopStream(stream);
        return;
      }
      s.stream = stream;
      s.video.srcObject = stream;
      var playing = s.video.play();
      if (playing && playing.catch) { playing.catch(function () { /* autoplay of a muted video: allowed */ }); }
      status(s, msg(s, "ready"));
      armHint(s);
      cameraControls(s, stream.getVideoTracks()[0]);
      return decoder(s).then(function (d) {
        if (current === s && generation === s.generation) { s.decoder = d; scanSoon(s, 0); }
      });
    }).catch(function (error) {
      if (current !== s || generation !== s.generation) { return; }
      problem(s, errorKind(error));
    });
  }

  function errorKind(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") { return "denied"; }
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") { return "nocamera"; }
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") { return "busy"; }
    if (name === "DecoderError") { return "decoder"; }
    return "failed";
  }

  function stopCamera(s) {
    s.generation++;
    clearTimeout(s.loopTimer);
    clearTimeout(s.hintTimer);
    if (s.stream) { stopStream(s.stream); }
    s.stream = null;
    s.torch = false;
    s.seen = null;
    if (s.video) { s.video.srcObject = null; }
  }

  function stopStream(stream) {
    stream.getTracks().forEach(function (track) { track.stop(); });
  }

  function cameraControls(s, track) {
    var settings = track && track.getSettings ? track.getSettings() : {};
    var capabilities = track && track.getCapabilities ? track.getCapabilities() : {};
    s.dialog.classList.toggle("is-mirrored", settings.facingMode === "user");
    var torch = s.dialog.querySelector("[data-scanner-torch]");
    if (torch) {
      torch.hidden = !capabilities.torch;
      torch.setAttribute("aria-pressed", "false");
    }
    navigator.mediaDevices.enumerateDevices().then(function (devices) {
      var cameras = devices.filter(function (d) { return d.kind === "videoinput"; });
      if (current === s) { show(s, "[data-scanner-flip]", cameras.length > 1); }
    }).catch(function () { show(s, "[data-scanner-flip]", false); });
  }

  function toggleTorch(s) {
    var track = s.stream && s.stream.getVideoTracks()[0];
    var button = s.dialog.querySelector("[data-scanner-torch]");
    if (!track || !button) { return; }
    var on = !s.torch;
    track.applyConstraints({ advanced: [{ torch: on }] }).then(function () {
      s.torch = on;
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }).catch(function () { button.hidden = true; });
  }

  // Front ↔ back where the camera says which way it faces (tablets), else the next camera (laptops).
  function flip(s) {
    var track = s.stream && s.stream.getVideoTracks()[0];
    var settings = track && track.getSettings ? track.getSettings() : {};
    if (settings.facingMode) {
      s.facing = settings.facingMode === "user" ? "environment" : "user";
      s.deviceId = null;
      start(s);
      return;
    }
    navigator.mediaDevices.enumerateDevices().then(function (devices) {
      var ids = devices.filter(function (d) { return d.kind === "videoinput"; }).map(function (d) { return d.deviceId; });
      var index = ids.indexOf(settings.deviceId);
      s.deviceId = ids.length ? ids[(index + 1) % ids.length] : null;
      if (current === s) { start(s); }
    });
  }

  // --- Reading frames ----------------------------------------------------------------------------------

  function scanSoon(s, delay) {
    clearTimeout(s.loopTimer);
    s.loopTimer = setTimeout(function () { scan(s); }, delay);
  }

  function scan(s) {
    if (current !== s || !s.stream || !s.decoder) { return; }
    if (!s.dialog.isConnected) { stopAll(); return; }
    var generation = s.generation;
    var began = Date.now();
    s.decoder.detect(s.video, s.hinted).then(function (found) {
      if (current !== s || generation !== s.generation) { return; }
      if (found && accept(s, found)) { return; }
      var took = Date.now() - began;  // a slow device rests at least as long as it worked: at most half a core
      scanSoon(s, Math.max(20, FRAME_MS - took, took));
    }, function (error) {
      if (current !== s || generation !== s.generation) { return; }
      if (error && error.name === "DecoderError") { decoderPromise = null; stopCamera(s); problem(s, "decoder"); return; }
      scanSoon(s, FRAME_MS);
    });
  }

  function accept(s, found) {
    var value = String(found.value || "").trim();
    if (!value) { return false; }
    if (found.format === "ean_13") {
      if (!validEan13(value)) { return false; }
      var now = Date.now();  // one misread frame must not send the clerk to the wrong product
      if (s.seen !== value || now - s.seenAt > CONFIRM_MS) { s.seen = value; s.seenAt = now; return false; }
    }
    return deliver(s, value, found.format);
  }

  function validEan13(code) {
    if (!/^\d{13}$/.test(code)) { return false; }
    var sum = 0;
    for (var i = 0; i < 12; i++) { sum += Number(code[i]) * (i % 2 ? 3 : 1); }
    return (10 - sum % 10) % 10 === Number(code[12]);
  }

  function typed(s, form) {
    var input = form.querySelector("input");
    var value = input ? input.value.trim() : "";
    if (!value) { if (input) { input.focus(); } return; }
    if (/^\d{13}$/.test(value) && !validEan13(value)) { manualError(s, msg(s, "badEan")); input.focus(); return; }
    manualError(s, "");
    deliver(s, value, "typed");
  }

  // Decide where the code leads; returns true when the dialog is done.
  function deliver(s, value, format) {
    var opener = s.opener;
    var event = new CustomEvent("scanner:decoded", { bubbles: true, cancelable: true, detail: { value: value, format: format } });
    var handled = opener.isConnected ? !opener.dispatchEvent(event) : false;
    var destination = null;
    if (!handled) {
      var link = webAddress(value);
      if (link && (opener.getAttribute("data-scan-links") || "follow") !== "target") {
        if (link.origin !== window.location.origin) {
          s.seen = null;
          status(s, msg(s, "foreign").replace("{host}", link.host));
          return false;
        }
        destination = link.href;
      } else {
        var template = opener.getAttribute("data-scan-target") || s.dialog.getAttribute("data-default-target");
        destination = template.replace(/\{code\}|%7Bcode%7D/gi, encodeURIComponent(value));
      }
    }
    feedback();
    close();
    if (destination) { window.location.assign(destination); }
    return true;
  }

  function webAddress(value) {
    if (!/^https?:\/\//i.test(value)) { return null; }
    try { return new URL(value); } catch (error) { return null; }
  }

  // --- Decoders: {detect(video) → Promise of {value, format} or null} -----------------------------------

  function decoder(s) {
    if (!decoderPromise) {
      var vendor = s.dialog.getAttribute("data-decoder");
      decoderPromise = nativeDecoder().then(function (native) { return native || workerDecoder(vendor); });
      decoderPromise.catch(function () { decoderPromise = null; });
    }
    return decoderPromise;
  }

  function nativeDecoder() {
    if (!("BarcodeDetector" in window) || !window.BarcodeDetector.getSupportedFormats) { return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (supported) {
      if (!FORMATS.every(function (f) { return supported.indexOf(f) >= 0; })) { return null; }
      var detector = new window.BarcodeDetector({ formats: FORMATS });
      return {
        detect: function (video) {
          if (video.readyState < 2) { return Promise.resolve(null); }
          return detector.detect(video).then(function (codes) {
            return codes.length ? { value: codes[0].rawValue, format: codes[0].format } : null;
          });
        }
      };
    }).catch(function () { return null; });
  }

  function workerDecoder(vendorUrl) {
    return new Promise(function (resolve, reject) {
      if (!SCRIPT_URL || !vendorUrl || !window.Worker) { reject(decoderError()); return; }
      var worker = new Worker(SCRIPT_URL);
      var canvas = document.createElement("canvas");
      var context = canvas.getContext("2d", { willReadFrequently: true });
      var pending = null, nextId = 0, ready = false;
      worker.onmessage = function (event) {
        var data = event.data || {};
        if (data.ready) { ready = true; resolve(api); return; }
        if (data.failed) { fail(); return; }
        if (pending && data.id === pending.id) {
          var p = pending;
          pending = null;
          p.resolve(data.value ? { value: data.value, format: data.format } : null);
        }
      };
      worker.onerror = function (event) { event.preventDefault(); fail(); };
      function fail() {
        worker.terminate();
        if (!ready) { reject(decoderError()); }
        if (pending) { pending.reject(decoderError()); pending = null; }
        ready = false;
      }
      var api = {
        detect: function (video, hard) {
          var w = video.videoWidth, h = video.videoHeight;
          if (!ready) { return Promise.reject(decoderError()); }
          if (!w || !h || video.readyState < 2 || pending) { return Promise.resolve(null); }
          var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
          canvas.width = Math.round(w * scale);
          canvas.height = Math.round(h * scale);
          context.drawImage(video, 0, 0, canvas.width, canvas.height);
          var image = context.getImageData(0, 0, canvas.width, canvas.height);
          return new Promise(function (ok, notOk) {
            pending = { id: ++nextId, resolve: ok, reject: notOk };
            worker.postMessage({ id: pending.id, width: image.width, height: image.height, pixels: image.data.buffer,
                                 hard: !!hard }, [image.data.buffer]);
          });
        }
      };
      worker.postMessage({ load: new URL(vendorUrl, window.location.href).href });
    });
  }

  function decoderError() {
    var error = new Error("the barcode decoder did not load");
    error.name = "DecoderError";
    return error;
  }

  // --- Messages and feedback -------------------------------------------------------------------------

  function msg(s, name) {
    return s.dialog.getAttribute("data-msg-" + name.replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); })) || "";
  }

  function status(s, text) {
    var el = s.dialog.querySelector("[data-scanner-status]");
    if (el) { el.textContent = text; }
  }

  function armHint(s) {
    clearTimeout(s.hintTimer);
    var after = Number(s.dialog.getAttribute("data-hint-ms")) || 10000;
    s.hinted = false;
    s.hintTimer = setTimeout(function () {
      if (current === s && s.stream) { s.hinted = true; status(s, msg(s, "hint")); }
    }, after);
  }

  function problem(s, kind) {
    stopCamera(s);
    s.dialog.classList.add("has-problem");
    status(s, "");
    var box = s.dialog.querySelector("[data-scanner-problem]");
    if (box) {
      box.querySelector("[data-scanner-problem-text]").textContent = msg(s, kind) || msg(s, "failed");
      box.setAttribute("data-kind", kind);
      box.hidden = false;
      var retry = box.querySelector("[data-scanner-retry]");
      if (retry) { retry.hidden = kind === "insecure" || kind === "nocamera"; }
    }
    show(s, "[data-scanner-torch]", false);
    show(s, "[data-scanner-flip]", false);
  }

  function manualError(s, text) {
    var el = s.dialog.querySelector("[data-scanner-manual-error]");
    if (el) { el.textContent = text; el.hidden = !text; }
  }

  function show(s, selector, visible) {
    var el = s.dialog.querySelector(selector);
    if (el) { el.hidden = !visible; }
  }

  function focusSearch() {
    var box = document.getElementById("global-search");
    if (box) { box.focus(); }
  }

  function wakeAudio() {  // made during the tap that opens the dialog, so the browser lets it play later
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      if (!audio) { audio = new Context(); }
      if (audio.state === "suspended") { audio.resume().catch(function () {}); }
    } catch (error) { audio = null; }
  }

  function feedback() {
    if (navigator.vibrate) { try { navigator.vibrate(80); } catch (error) { /* not allowed: fine */ } }
    if (!audio || audio.state !== "running") { return; }
    var tone = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime;
    tone.frequency.value = 1200;
    gain.gain.setValueAtTime(0.12, t);
    gain.gain.exponentialRampToValueAtTime(0.001, t + 0.12);
    tone.connect(gain);
    gain.connect(audio.destination);
    tone.start(t);
    tone.stop(t + 0.13);
  }

  // --- The worker: ZXing over RGBA frames --------------------------------------------------------------

  function decoderWorker(scope) {
    var ZX = null, qr = null, ean = null, hints = null, hard = null, turn = false;
    scope.onmessage = function (event) {
      var data = event.data || {};
      if (data.load) {
        try {
          scope.importScripts(data.load);
          ZX = scope.ZXing;
          // The two readers on their own (MultiFormatReader logs a warning for every frame without a code).
          qr = new ZX.QRCodeReader();
          ean = new ZX.EAN13Reader();
          hints = new Map();  // quick by default; every row and more angles once the clerk needs the hint
          hard = new Map();
          hard.set(ZX.DecodeHintType.TRY_HARDER, true);
          scope.postMessage({ ready: true });
        } catch (error) {
          scope.postMessage({ failed: String(error) });
        }
        return;
      }
      if (!qr) { return; }
      var rgba = new Uint8ClampedArray(data.pixels);
      var frame = luminance(rgba, data.width, data.height, false);
      var plain = bitmap(frame);
      // A QR code reads at any angle; a barcode is read across, so every other frame is turned a quarter
      // (transposed) for a barcode held upright.
      turn = !turn;
      var how = data.hard ? hard : hints;
      // ZXing's QR detector misses some codes at one scale that it reads at another (about 1 in 17 of
      // sharp, still codes here); a half-size copy costs a quarter of the work and catches nearly all.
      var found = attempt(qr, plain, "qr_code", how) ||
                  attempt(qr, bitmap(halve(frame)), "qr_code", how) ||
                  attempt(ean, turn ? bitmap(luminance(rgba, data.width, data.height, true)) : plain, "ean_13", how);
      scope.postMessage({ id: data.id, value: found ? found.value : null, format: found ? found.format : null });
    };

    function bitmap(frame) {
      return new ZX.BinaryBitmap(new ZX.HybridBinarizer(new ZX.RGBLuminanceSource(frame.pixels, frame.width, frame.height)));
    }

    function attempt(reader, image, format, how) {
      try {
        return { value: reader.decode(image, how).getText(), format: format };
      } catch (error) {
        if (!(error instanceof ZX.Exception)) { console.warn("scanner: decoding failed", error); }
        return null;
      } finally {
        reader.reset();
      }
    }
  }

  // The frame at half its width and height, each pixel the mean of four.
  function halve(frame) {
    var width = frame.width >> 1, height = frame.height >> 1, from = frame.pixels, stride = frame.width;
    var out = new Uint8ClampedArray(width * height);
    for (var y = 0; y < height; y++) {
      var top = 2 * y * stride, below = top + stride;
      for (var x = 0; x < width; x++) {
        var i = 2 * x;
        out[y * width + x] = (from[top + i] + from[top + i + 1] + from[below + i] + from[below + i + 1]) >> 2;
      }
    }
    return { pixels: out, width: width, height: height };
  }

  function luminance(rgba, width, height, transpose) {
    var out = new Uint8ClampedArray(width * height);
    var i, x, y;
    if (!transpose) {
      for (i = 0; i < out.length; i++) {
        out[i] = (rgba[i * 4] * 77 + rgba[i * 4 + 1] * 150 + rgba[i * 4 + 2] * 29) >> 8;
      }
      return { pixels: out, width: width, height: height };
    }
    for (y = 0; y < height; y++) {
      for (x = 0; x < width; x++) {
        i = (y * width + x) * 4;
        out[x * height + y] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
      }
    }
    return { pixels: out, width: height, height: width };
  }
})();
