// Samhandling: small progressive enhancements. No framework; everything works without this
// file except the passkey ceremony, which needs the browser's WebAuthn API.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // --- base64url <-> ArrayBuffer -----------------------------------------------------------
  function toBuffer(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }
  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    json.challenge = toBuffer(json.challenge);
    json.user.id = toBuffer(json.user.id);
    (json.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return json;
  }
  function requestOptions(json) {
    json.challenge = toBuffer(json.challenge);
    (json.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return json;
  }
  function registrationJSON(cred) {
    return {
      id: cred.id, rawId: toBase64url(cred.rawId), type: cred.type,
      response: {
        clientDataJSON: toBase64url(cred.response.clientDataJSON),
        attestationObject: toBase64url(cred.response.attestationObject),
        transports: cred.response.getTransports ? cred.response.getTransports() : []
      },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }
  function authenticationJSON(cred) {
    return {
      id: cred.id, rawId: toBase64url(cred.rawId), type: cred.type,
      response: {
        clientDataJSON: toBase64url(cred.response.clientDataJSON),
        authenticatorData: toBase64url(cred.response.authenticatorData),
        signature: toBase64url(cred.response.signature),
        userHandle: cred.response.userHandle ? toBase64url(cred.response.userHandle) : null
      },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": csrfToken(), "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || "");
        return data;
      });
    });
  }

  var ENDPOINTS = {
    login: ["/login/options", "/login/verify"],
    enroll: ["/enroll/options", "/enroll/verify"],
    add: ["/account/passkeys/options", "/account/passkeys/verify"]
  };

  function setupPasskey(root) {
    if (root.dataset.passkeyReady) return;
    root.dataset.passkeyReady = "1";
    var kind = root.getAttribute("data-passkey");
    var button = root.querySelector("[data-passkey-start]");
    var status = root.querySelector("[data-passkey-status]");
    var nameInput = root.querySelector("[data-passkey-name]");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      var warning = root.querySelector("[data-passkey-unsupported]");
      if (warning) warning.hidden = false;
      return;
    }
    button.hidden = false;
    // The words come from the page (rendered with gettext), in the reader's language.
    var messages = { busy: status.getAttribute("data-busy"), failed: status.getAttribute("data-failed"),
                     cancelled: status.getAttribute("data-cancelled") };

    button.addEventListener("click", function () {
      var urls = ENDPOINTS[kind];
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      status.textContent = messages.busy;
      postJSON(urls[0]).then(function (options) {
        if (kind === "login") {
          return navigator.credentials.get({ publicKey: requestOptions(options) }).then(function (cred) {
            return postJSON(urls[1], { credential: authenticationJSON(cred), next: root.getAttribute("data-next") || "/" });
          });
        }
        return navigator.credentials.create({ publicKey: creationOptions(options) }).then(function (cred) {
          return postJSON(urls[1], { credential: registrationJSON(cred), name: nameInput ? nameInput.value : "" });
        });
      }).then(function (result) {
        window.location.assign(result.redirect || "/");
      }).catch(function (error) {
        var cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
        status.textContent = cancelled ? messages.cancelled : (error && error.message) || messages.failed;
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
    });
  }

  function setupCopy(button) {
    if (button.dataset.copyReady || !navigator.clipboard) return;
    button.dataset.copyReady = "1";
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      var status = button.parentNode.querySelector("[data-copy-status]");
      var text = source.value !== undefined ? source.value : source.textContent;
      navigator.clipboard.writeText(text.trim()).then(function () {
        if (status) status.textContent = status.getAttribute("data-copied");
      });
    });
  }

  // A question that does not apply after a given answer: data-hidden-when="name=value" hides it while
  // that radio button is chosen (the server ignores it then; without JavaScript it stays visible).
  function setupHiddenWhen(element) {
    if (element.dataset.hiddenWhenReady) return;
    element.dataset.hiddenWhenReady = "1";
    var rule = element.getAttribute("data-hidden-when").split("=");
    var form = element.closest("form");
    if (!form) return;
    function update() {
      var chosen = form.querySelector('input[name="' + rule[0] + '"]:checked');
      element.hidden = !!chosen && chosen.value === rule[1];
    }
    form.addEventListener("change", update);
    update();
  }

  function enhance(root) {
    root.querySelectorAll("[data-hidden-when]").forEach(setupHiddenWhen);
    root.querySelectorAll("[data-passkey]").forEach(setupPasskey);
    root.querySelectorAll("[data-copy]").forEach(setupCopy);
    var summary = root.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
  // Show a busy state on the button of a form while htmx is submitting it.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var button = event.target.querySelector && event.target.querySelector("button[type=submit]");
    if (button) button.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var button = event.target.querySelector && event.target.querySelector("button[type=submit]");
    if (button) button.removeAttribute("aria-busy");
  });

  // --- Focus after an htmx swap ---------------------------------------------------------------
  // A swap that replaces the control a person was using (a measure's card on /plan, the clinic's
  // stage form) would drop focus to <body>. Remember what had focus before the swap; afterwards, if
  // focus was lost, move it to the status message the new content carries (made focusable with
  // tabindex=-1), or else back to the control with the same id, or else to the new content's heading.
  // An error summary takes focus itself (enhance above). A whole-page swap (hx-boost) starts at the top
  // as a page load does.
  var focusBeforeSwap = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    focusBeforeSwap = active && active !== document.body ? { id: active.id, target: event.detail.target } : null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var before = focusBeforeSwap;
    focusBeforeSwap = null;
    var target = event.detail.target;
    if (!before || !target || target === document.body || target === document.documentElement) return;
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return;  // focus was not lost
    var scope = (target.isConnected ? target : null) || (target.id && document.getElementById(target.id)) ||
      (before.id && document.getElementById(before.id)) || null;
    if (scope && !scope.querySelector) scope = null;
    var status = scope && (scope.matches("[role=status], [role=alert]") ? scope
      : scope.querySelector("[role=status], [role=alert]"));
    if (status && status.textContent.trim()) {
      if (!status.hasAttribute("tabindex")) status.setAttribute("tabindex", "-1");
      status.focus();
      return;
    }
    var control = before.id && document.getElementById(before.id);
    if (control) { control.focus(); return; }
    // The control is gone (a form replaced by its result): the new content's heading, or the content itself.
    var landing = scope && (scope.querySelector("h2, h3, h4") || scope);
    if (landing) {
      if (!landing.hasAttribute("tabindex")) landing.setAttribute("tabindex", "-1");
      landing.focus();
    }
  });

  // --- The header's "Menu" -------------------------------------------------------------------
  // A <details> works without this; with it, Escape closes the menu (focus back on "Menu") and the
  // menu closes when focus moves out of it, so the open panel never hides what has focus.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.querySelector("[data-site-menu][open]");
    if (menu && menu.contains(document.activeElement)) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
  document.addEventListener("focusin", function (event) {
    var menu = document.querySelector("[data-site-menu][open]");
    if (menu && !menu.contains(event.target)) menu.open = false;
  });
  document.addEventListener("click", function (event) {
    var menu = document.querySelector("[data-site-menu][open]");
    if (menu && !menu.contains(event.target)) menu.open = false;
  });
})();
