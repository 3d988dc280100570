// Samhandling as an installed app: the service worker, "new version ready", offline reading on this device,
// and push on this device. Everything else works without this file.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  var FLAG = "samhandling-offline-reading";
  var body = document.body;
  var signedIn = body.getAttribute("data-signed-in") === "1";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function tell(message) {
    return navigator.serviceWorker.ready.then(function (reg) {
      return new Promise(function (resolve) {
        var worker = reg.active;
        if (!worker) return resolve(false);
        navigator.serviceWorker.addEventListener("message", function done(event) {
          if (event.data && event.data.type === message.type + "-done") {
            navigator.serviceWorker.removeEventListener("message", done);
            resolve(event.data.ok);
          }
        });
        worker.postMessage(message);
      });
    });
  }
  function clearCopy() {
    try { localStorage.removeItem(FLAG); } catch (e) { /* private mode */ }
    return tell({type: "clear-copy"});
  }
  window.samhandlingPwa = {tell: tell, clearCopy: clearCopy};

  // --- registration and updates ------------------------------------------------------------
  function offerUpdate(worker) {
    var banner = document.getElementById("update-banner");
    if (!banner) return;
    banner.hidden = false;
    banner.querySelector("button").addEventListener("click", function () {
      worker.postMessage({type: "skip-waiting"});
    });
  }
  navigator.serviceWorker.register("/sw.js", {scope: "/"}).then(function (reg) {
    if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg.waiting);
    reg.addEventListener("updatefound", function () {
      var fresh = reg.installing;
      fresh.addEventListener("statechange", function () {
        if (fresh.state === "installed" && navigator.serviceWorker.controller) offerUpdate(fresh);
      });
    });
  });
  var reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", function () {
    if (reloading || !document.getElementById("update-banner") || document.getElementById("update-banner").hidden) return;
    reloading = true;
    window.location.reload();
  });

  // --- offline reading ----------------------------------------------------------------------
  var optedIn = false;
  try { optedIn = localStorage.getItem(FLAG) === "1"; } catch (e) { optedIn = false; }
  if (!signedIn) {
    clearCopy();  // logged out or the session ended: no personal copy stays on the device
  } else if (optedIn && navigator.onLine) {
    tell({type: "save-copy"});  // keep the copy fresh
  }
  document.addEventListener("submit", function (event) {
    if (event.target.getAttribute("action") === "/logout") clearCopy();
  }, true);
  // An htmx-boosted link that fails offline becomes a real navigation, which the worker answers.
  document.addEventListener("htmx:sendError", function (event) {
    var path = event.detail && event.detail.pathInfo && event.detail.pathInfo.requestPath;
    if (path && event.detail.requestConfig && event.detail.requestConfig.verb === "get") window.location.href = path;
  });

  var reading = document.querySelector("[data-offline-reading]");
  if (reading) {
    var box = reading.querySelector("input[type=checkbox]");
    var status = reading.querySelector("[data-offline-status]");
    reading.hidden = false;
    box.checked = optedIn;
    box.addEventListener("change", function () {
      if (box.checked) {
        try { localStorage.setItem(FLAG, "1"); } catch (e) { /* private mode */ }
        tell({type: "save-copy"}).then(function (ok) {
          status.textContent = ok ? status.getAttribute("data-saved") : status.getAttribute("data-failed");
        });
      } else {
        clearCopy().then(function () { status.textContent = status.getAttribute("data-removed"); });
      }
    });
  }

  // --- push on this device -------------------------------------------------------------------
  var pushBox = document.querySelector("[data-push]");
  if (!pushBox || !("PushManager" in window) || !("Notification" in window)) return;
  pushBox.hidden = false;
  var pushStatus = pushBox.querySelector("[data-push-status]");
  function keyBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var raw = atob(base64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  pushBox.querySelector("button").addEventListener("click", function () {
    // The permission prompt comes only now, after the person asked for it.
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error("denied");
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      return reg.pushManager.subscribe({userVisibleOnly: true,
        applicationServerKey: keyBytes(pushBox.getAttribute("data-key"))});
    }).then(function (subscription) {
      var json = subscription.toJSON();
      return fetch("/settings/notifications/devices", {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "x-csrftoken": csrf()},
        body: JSON.stringify({endpoint: json.endpoint, keys: json.keys, label: navigator.platform || ""})});
    }).then(function (response) {
      if (!response.ok) throw new Error("server");
      window.location.reload();
    }).catch(function () {
      pushStatus.textContent = pushStatus.getAttribute("data-failed");
    });
  });
})();
