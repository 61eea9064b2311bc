// Accounts page behaviour that HTML and htmx attributes cannot express (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  var slot = function () { return document.getElementById("dialog-slot"); };
  var timer = null;

  function closeDialog() {
    var s = slot();
    if (s && !s.querySelector("form.htmx-request")) { s.innerHTML = ""; }
  }

  document.addEventListener("click", function (e) {
    var close = e.target.closest("[data-close-dialog]");
    if (close && slot() && slot().contains(close)) { e.preventDefault(); closeDialog(); }
    // Clicking an action inside a row menu closes the menu.
    var item = e.target.closest("details.menu .menu-item");
    if (item) { item.closest("details").removeAttribute("open"); }
  });

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { closeDialog(); }
  });

  // Elapsed seconds while an account is being created ("might take up to a minute").
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt;
    if (!form.matches || !form.matches("form.add-account")) { return; }
    var out = form.querySelector("[data-elapsed]");
    var started = Date.now();
    clearInterval(timer);
    if (out) { out.textContent = "0"; }
    timer = setInterval(function () {
      if (out) { out.textContent = String(Math.floor((Date.now() - started) / 1000)); }
    }, 250);
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.elt.matches && e.detail.elt.matches("form.add-account")) { clearInterval(timer); }
  });

  // Focus the first field, or the first one in error, when the dialog opens or comes back with errors.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "dialog-slot") {
      var first = e.detail.target.querySelector("[aria-invalid=true], form.add-account input[type=text]");
      if (first) { first.focus(); }
    }
  });
})();
