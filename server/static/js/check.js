// Camera and microphone check (meetings/check.html). Nothing happens until the patient presses
// "Start the check": only then does the browser ask for permission. All text lives in the page
// (translated there); this file only shows the right message.
(function () {
  "use strict";

  function setup(root) {
    if (!root || root.dataset.checkReady) return;
    root.dataset.checkReady = "1";
    var start = root.querySelector("[data-check-start]");
    var stopButton = root.querySelector("[data-check-stop]");
    var video = root.querySelector("[data-check-video]");
    var level = root.querySelector("[data-check-level]");
    var meter = root.querySelector("[data-check-meter]");
    var stream = null, audio = null, frame = 0;

    function show(name) {
      root.querySelectorAll("[data-msg]").forEach(function (el) {
        el.hidden = el.getAttribute("data-msg") !== name;
      });
    }

    function supported() {
      return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    }

    function meterLoop(analyser) {
      var samples = new Uint8Array(analyser.fftSize);
      function tick() {
        analyser.getByteTimeDomainData(samples);
        var sum = 0;
        for (var i = 0; i < samples.length; i++) {
          var v = (samples[i] - 128) / 128;
          sum += v * v;
        }
        meter.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
        frame = window.requestAnimationFrame(tick);
      }
      tick();
    }

    function startAudio(media) {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context || media.getAudioTracks().length === 0) return;
      audio = new Context();
      var analyser = audio.createAnalyser();
      analyser.fftSize = 1024;
      audio.createMediaStreamSource(media).connect(analyser);
      level.hidden = false;
      meterLoop(analyser);
    }

    function stop(quiet) {
      if (frame) window.cancelAnimationFrame(frame);
      frame = 0;
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      if (audio) audio.close();
      audio = null;
      video.srcObject = null;
      video.hidden = true;
      level.hidden = true;
      meter.value = 0;
      stopButton.hidden = true;
      start.hidden = false;
      start.disabled = false;
      start.removeAttribute("aria-busy");
      if (!quiet) show("stopped");
    }

    function failed(error) {
      stop(true);
      var name = error && error.name;
      if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") show("denied");
      else if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") show("notfound");
      else if (name === "NotReadableError" || name === "AbortError" || name === "TrackStartError") show("busy");
      else show("failed");
    }

    start.addEventListener("click", function () {
      if (!supported()) { show("unsupported"); return; }
      start.disabled = true;
      start.setAttribute("aria-busy", "true");
      navigator.mediaDevices.getUserMedia({ video: true, audio: true }).then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        var playing = video.play();
        if (playing && playing.catch) playing.catch(function () {});
        try { startAudio(media); } catch (e) { level.hidden = true; }
        start.hidden = true;
        start.removeAttribute("aria-busy");
        stopButton.hidden = false;
        show("running");
        stopButton.focus();
      }).catch(failed);
    });
    stopButton.addEventListener("click", function () { stop(false); start.focus(); });

    // Leaving the page (also by an htmx-boosted link, which keeps this document) turns everything off.
    window.addEventListener("pagehide", function () { stop(true); });
    document.addEventListener("htmx:beforeSwap", function (event) {
      var target = event.detail && event.detail.target;
      if (target && target.contains(root)) stop(true);
    });
  }

  function init() { setup(document.querySelector("[data-media-check]")); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  document.addEventListener("htmx:load", init);
})();
