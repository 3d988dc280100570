// The "Print" button on the action plan's print view (plan/print.html). The button is hidden in
// the markup, so without JavaScript the page only shows the hint to use the browser's menu.
(function () {
  "use strict";

  function setup() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      if (button.dataset.printReady) return;
      button.dataset.printReady = "1";
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
