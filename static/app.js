// What HTML and htmx attributes cannot express: dialogs, row menus, where focus goes, stale field errors. Loaded on
// every page; no inline scripts anywhere (the CSP forbids them). Without JavaScript every page still works.
(function () {
  "use strict";
  // Lets the stylesheet tell a page with this script from one without (the no-script menu fallback).
  document.documentElement.classList.add("js");

  var FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), " +
    "select:not([disabled]), textarea:not([disabled]), summary, [tabindex]";

  function slot() { return document.getElementById("dialog-slot"); }
  function shownDialog() { var s = slot(); return s ? s.querySelector("dialog[open]") : null; }
  function focusable(el) { return el.matches(FOCUSABLE) && el.getClientRects().length > 0; }

  // The page's message, else its heading: where focus goes when what had it is gone.
  function focusPageMessage() {
    var target = document.querySelector("#flash .flash") || document.querySelector("main h1");
    if (target) {
      target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  // Focuses `el`; when htmx replaced it, the element in the same place of the new copy of its nearest ancestor with
  // an id (the row, the panel); when that is gone too, the page's message.
  function focusNear(el) {
    if (!el) { return; }
    if (el.isConnected && focusable(el)) { el.focus(); return; }
    var ancestor = el;
    while (ancestor && !ancestor.id) { ancestor = ancestor.parentElement; }
    var now = ancestor && document.getElementById(ancestor.id);
    if (now && now !== ancestor) {
      // A row's bulk checkbox comes and goes with its actions: it does not count when finding the same place in the
      // new copy, unless it is what had focus.
      var skipBoxes = !el.matches("input.select-row");
      var places = function (root) {
        return Array.prototype.filter.call(root.querySelectorAll(FOCUSABLE), function (c) {
          return !(skipBoxes && c.matches("input.select-row"));
        });
      };
      var index = ancestor === el ? 0 : places(ancestor).indexOf(el);
      var fresh = (now.matches(FOCUSABLE) ? [now] : places(now)).filter(focusable);
      var pick = fresh[Math.max(index, 0)] || fresh[0];
      if (pick) { pick.focus(); return; }
    }
    focusPageMessage();
  }

  // Where focus was last, to put it back when a swap takes it away.
  var lastFocused = null;
  document.addEventListener("focusin", function (e) { lastFocused = e.target; });
  // A click on the page's background leaves nothing to put back. (Checked a moment later: browsers also report the
  // loss of focus when htmx removes the element, which is when focus should be put back.)
  document.addEventListener("focusout", function (e) {
    var left = e.target;
    setTimeout(function () {
      if (left === lastFocused && left.isConnected && document.activeElement === document.body) { lastFocused = null; }
    });
  });

  // ---- Dialogs: everything htmx puts in #dialog-slot (Add Account, its progress, the confirmations) is a <dialog>
  // shown with showModal(): the page behind is inert, Tab stays inside, Escape closes it.
  var opener = null;

  function firstField(root) {
    return root.querySelector("[aria-invalid=true]") || root.querySelector("[autofocus]") ||
      root.querySelector("form input:not([type=hidden]), form select");
  }

  function showDialog(dialog) {
    if (!dialog.open) { dialog.showModal(); }
    var first = firstField(dialog);
    if (first) { first.focus(); }
  }

  function closeDialog(dialog) {
    // Not while its form is being sent: the answer would have nowhere to go.
    if (dialog && !dialog.querySelector(".htmx-request")) { dialog.close(); }
  }

  // A dialog with an address of its own (Add Account's /accounts/new, from its opener's data-dialog-url) puts it in
  // the address bar while open: Back closes the dialog, closing it goes back, and a reload shows the form as a page.
  var dialogEntry = null, leaving = false;
  function leaveDialogEntry() {
    if (dialogEntry && !leaving && location.pathname === dialogEntry) {
      leaving = true;
      history.back();
    }
  }
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target !== slot()) { return; }
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    var url = elt && elt.getAttribute && elt.getAttribute("data-dialog-url");
    if (!slot().querySelector("dialog")) {
      // The dialog's work is done (an account created): its address goes as the dialog does.
      leaveDialogEntry();
      return;
    }
    if (!url) { return; }
    if (location.pathname !== url) { history.pushState({ dialog: url }, "", url); }
    dialogEntry = url;
  });
  // Before htmx's own handler (this is registered first): the page under the dialog is the page to go back to, not
  // one to reload.
  window.addEventListener("popstate", function (e) {
    if (dialogEntry) {
      e.stopImmediatePropagation();
      dialogEntry = null;
      leaving = false;
      closeDialog(shownDialog());
    } else if (e.state && e.state.dialog && slot()) {
      // Forward to the dialog's address opens it again.
      e.stopImmediatePropagation();
      var again = document.querySelector('[data-dialog-url="' + e.state.dialog + '"]');
      if (again) { again.click(); }
    }
  });

  document.addEventListener("close", function (e) {
    if (!(e.target instanceof HTMLDialogElement) || !slot() || !slot().contains(e.target)) { return; }
    leaveDialogEntry();
    slot().replaceChildren();
    focusNear(opener);
    opener = null;
  }, true);

  document.addEventListener("cancel", function (e) {
    if (e.target instanceof HTMLDialogElement && e.target.querySelector(".htmx-request")) { e.preventDefault(); }
  }, true);

  // showModal() keeps focus out of the page, but Tab past the last field would leave for the browser's own bar.
  document.addEventListener("keydown", function (e) {
    var dialog = shownDialog();
    if (e.key !== "Tab" || !dialog) { return; }
    var all = Array.prototype.filter.call(dialog.querySelectorAll(FOCUSABLE), function (el) {
      return focusable(el) && el.tabIndex >= 0;
    });
    if (!all.length) { return; }
    var first = all[0], last = all[all.length - 1];
    if (e.shiftKey && document.activeElement === first) { last.focus(); e.preventDefault(); }
    else if (!e.shiftKey && document.activeElement === last) { first.focus(); e.preventDefault(); }
  });

  // Opening a dialog remembers what opened it: the row's menu button rather than the menu item, which hides.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt, s = slot();
    if (s && e.detail.target === s && !s.contains(elt)) {
      var menu = elt.closest("details.menu");
      opener = menu ? menu.querySelector("summary") : elt;
    }
  });

  // A role form whose choice is Publisher Administrator asks first: full control is not given by one click.
  function promotion(elt) {
    var role = elt && elt.querySelector && elt.querySelector("select[name=role]");
    return role && role.value === "publisher_administrator" ? elt.getAttribute("data-confirm-promotion") : null;
  }

  // hx-confirm (the Users page) asks in the same dialog as the Accounts page, not with the browser's confirm().
  document.addEventListener("htmx:confirm", function (e) {
    var question = e.detail.question || promotion(e.detail.elt), elt = e.detail.elt, s = slot();
    if (!question || !s) { return; }
    e.preventDefault();
    var dialog = document.createElement("dialog");
    dialog.className = "modal modal-small";
    dialog.setAttribute("aria-labelledby", "confirm-title");
    var title = document.createElement("h2");
    title.id = "confirm-title";
    title.textContent = elt.getAttribute("data-confirm-title") || "Confirm";
    var text = document.createElement("p");
    text.textContent = question;
    var actions = document.createElement("div");
    actions.className = "form-actions";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn";
    cancel.textContent = "Cancel";
    cancel.setAttribute("data-close-dialog", "");
    var ok = document.createElement("button");
    ok.type = "button";
    ok.className = "btn btn-primary" + (elt.hasAttribute("data-confirm-danger") ? " btn-danger" : "");
    ok.textContent = elt.getAttribute("data-confirm-label") || "OK";
    ok.addEventListener("click", function () {
      dialog.close();
      e.detail.issueRequest(true);
    });
    actions.append(cancel, ok);
    dialog.append(title, text, actions);
    opener = document.activeElement !== document.body ? document.activeElement : elt.querySelector("button") || elt;
    s.replaceChildren(dialog);
    dialog.showModal();
    (elt.hasAttribute("data-confirm-danger") ? cancel : ok).focus();
  });

  document.addEventListener("click", function (e) {
    var close = e.target.closest("[data-close-dialog]");
    if (close && slot() && slot().contains(close)) {
      e.preventDefault();
      closeDialog(close.closest("dialog"));
    }
  });

  // A confirmed action (hx-swap="none": its answer updates the row, the banner and the message out of band) closes
  // its dialog, which puts focus back on the row's menu button.
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (form.matches && form.matches("form[data-confirmed-action]")) {
      var dialog = form.closest("dialog");
      if (dialog) { dialog.close(); }
    }
  });

  // ---- Row menus: one open at a time, closed by Escape or a click elsewhere, and drawn over the page (fixed, beside
  // the button, or below or above it when there is no room) so the table's scroll box never cuts them off.
  function openMenus() { return document.querySelectorAll("details.menu[open]"); }

  function place(menu) {
    var list = menu.querySelector(".menu-items"), button = menu.querySelector("summary");
    var r = button.getBoundingClientRect();
    var viewWidth = document.documentElement.clientWidth, viewHeight = window.innerHeight;
    if (r.bottom < 0 || r.top > viewHeight) { menu.open = false; return; }
    var h = list.offsetHeight, w = list.offsetWidth, gap = 4;
    // A header menu drops below its button.
    if (menu.hasAttribute("data-menu-below")) {
      list.style.top = (r.bottom + gap) + "px";
      list.style.left = Math.max(gap, Math.min(r.left, viewWidth - w - gap)) + "px";
      return;
    }
    // Beside the button, to its left, where it covers no other row's menu button; below or above it when the window
    // has no room there.
    if (r.left - w - gap >= gap) {
      list.style.top = Math.max(gap, Math.min(r.top, viewHeight - h - gap)) + "px";
      list.style.left = (r.left - w - gap) + "px";
      return;
    }
    var below = viewHeight - r.bottom, above = r.top;
    var top = below >= h + gap || below >= above ? r.bottom + gap : r.top - h - gap;
    list.style.top = Math.max(gap, Math.min(top, viewHeight - h - gap)) + "px";
    list.style.left = Math.max(gap, Math.min(r.right - w, viewWidth - w - gap)) + "px";
  }

  function placeOpenMenus() { openMenus().forEach(place); }
  // A closed menu keeps no position of its own: a page saved for Back holds no style attribute, which the CSP
  // would refuse when it is restored.
  document.addEventListener("toggle", function (e) {
    var menu = e.target;
    if (menu.matches && menu.matches("details.menu") && !menu.open) {
      var list = menu.querySelector(".menu-items");
      if (list) { list.removeAttribute("style"); }
    }
  }, true);
  document.addEventListener("htmx:beforeHistorySave", function () {
    openMenus().forEach(function (menu) { menu.open = false; });
    Array.prototype.forEach.call(document.querySelectorAll("details.menu .menu-items[style]"), function (l) {
      l.removeAttribute("style");
    });
  });
  window.addEventListener("scroll", placeOpenMenus, true);
  window.addEventListener("resize", placeOpenMenus);

  document.addEventListener("click", function (e) {
    // The menu button opens its menu here rather than by default, so the menu is placed before it is drawn.
    var summary = e.target.closest("details.menu > summary");
    var menu = summary && summary.parentElement;
    if (menu) {
      e.preventDefault();
      var open = !menu.open;
      openMenus().forEach(function (other) { other.open = false; });
      menu.open = open;
      if (open) { place(menu); }
      return;
    }
    openMenus().forEach(function (other) {
      // A click elsewhere closes the menu, and so does choosing one of its actions.
      if (!other.contains(e.target) || e.target.closest(".menu-item")) { other.open = false; }
    });
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    openMenus().forEach(function (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
      e.preventDefault();
    });
  });

  // ---- Field errors: an error stays only until the field is changed, or the form is sent again.
  function clearError(field) {
    field.classList.remove("has-error");
    field.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    field.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
  }

  document.addEventListener("input", function (e) {
    var field = e.target.closest && e.target.closest(".field.has-error");
    if (field) { clearError(field); }
  });

  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt;
    if (form.tagName !== "FORM") { return; }
    form.querySelectorAll(".field.has-error").forEach(clearError);
    form.querySelectorAll(".form-error").forEach(function (el) { el.remove(); });
  });

  // ---- Add Account: elapsed seconds while the account is made ("might take up to a minute").
  var timer = null;
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

  // ---- Bulk selection: the header's checkbox ticks or clears every row of the page. Listened to while the event
  // goes down (capture), so the rows are set before htmx, listening on the panel as it comes back up, sends the form.
  document.addEventListener("change", function (e) {
    var panel = e.target.closest && e.target.closest("#accounts-panel");
    if (!panel) { return; }
    var rows = panel.querySelectorAll("input.select-row");
    if (e.target.matches("[data-select-page]")) {
      rows.forEach(function (box) { box.checked = e.target.checked; });
    } else if (e.target.matches("input.select-row")) {
      var all = panel.querySelector("[data-select-page]");
      if (all) { all.checked = Array.prototype.every.call(rows, function (box) { return box.checked; }); }
    }
  }, true);

  // ---- After a swap: show a dialog that arrived, focus a form that arrived, bring a new page of a table into
  // view, and put back focus a swap took away.
  document.addEventListener("htmx:afterSwap", function (e) {
    var el = e.target, s = slot();
    if (s && (el === s || s.contains(el))) {
      var dialog = s.querySelector("dialog");
      if (dialog) { showDialog(dialog); }
      else if (opener) { focusNear(opener); opener = null; }
      return;
    }
    var form = el.matches("form[data-focus-form]") ? el : el.querySelector("form[data-focus-form]");
    if (form) {
      var first = firstField(form);
      if (first) { first.focus(); }
    }
  });

  // While a page part loads: a bar across the top, the part being replaced dimmed and marked busy for screen readers.
  // Self-refreshing progress (hx-trigger "every …") is quiet.
  var loading = 0;
  function polling(elt) { return !!(elt && elt.getAttribute && /every /.test(elt.getAttribute("hx-trigger") || "")); }
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (polling(e.detail.elt)) { return; }
    loading += 1;
    document.documentElement.classList.add("loading");
    if (e.detail.target) { e.detail.target.setAttribute("aria-busy", "true"); }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (polling(e.detail.elt)) { return; }
    loading = Math.max(0, loading - 1);
    if (loading === 0) { document.documentElement.classList.remove("loading"); }
    if (e.detail.target && e.detail.target.isConnected) { e.detail.target.removeAttribute("aria-busy"); }
  });

  // Recovery codes, shown once: copy them, download them as a text file, or print them.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button[data-codes]");
    if (!button) { return; }
    var codes = Array.prototype.map.call(document.querySelectorAll("#recovery-codes code"), function (c) {
      return c.textContent.trim();
    });
    var text = "Multi Account recovery codes (" + location.host + "). Each signs you in once.\n\n" +
      codes.join("\n") + "\n";
    var said = document.getElementById("codes-copied");
    var what = button.getAttribute("data-codes");
    if (what === "copy" && navigator.clipboard) {
      navigator.clipboard.writeText(text).then(function () { if (said) { said.textContent = "Copied."; } });
    } else if (what === "download") {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      link.download = "multi-account-recovery-codes.txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
    } else if (what === "print") {
      window.print();
    }
  });

  // Add User: the hint under the role describes the role chosen.
  document.addEventListener("change", function (e) {
    var select = e.target;
    if (!select.matches || !select.matches("select[data-role-select]")) { return; }
    var hint = document.getElementById(select.getAttribute("aria-describedby"));
    if (!hint) { return; }
    Array.prototype.forEach.call(hint.querySelectorAll("[data-role-hint]"), function (h) {
      h.hidden = h.getAttribute("data-role-hint") !== select.value;
    });
  });

  // An edit conflict: the field shows the value that will be saved, and the chosen line is marked.
  document.addEventListener("change", function (e) {
    var choice = e.target;
    if (!choice.matches || !choice.matches("fieldset.conflict input[type=radio]")) { return; }
    var set = choice.closest("fieldset.conflict");
    var field = document.getElementById("edit-" + set.getAttribute("data-conflict-for"));
    if (field) {
      field.value = choice.getAttribute("data-value");
      field.readOnly = choice.value === "theirs";
    }
    Array.prototype.forEach.call(set.querySelectorAll("label"), function (l) {
      l.classList.toggle("chosen", l.contains(choice));
    });
  });

  // A new period or top-accounts metric on Usage loads a whole page, which a slow Kaltura can take seconds to give:
  // until it comes, the page says what it is loading and dims what it will replace.
  function loadingUsage(what) {
    var note = document.getElementById("usage-loading");
    if (!note) { return; }
    note.textContent = "Loading " + what + "\u2026";
    document.documentElement.classList.add("loading");
    Array.prototype.forEach.call(document.querySelectorAll("[data-usage-content]"), function (part) {
      part.setAttribute("aria-busy", "true");
    });
  }
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest(".presets a, .top-choices a");
    if (!link || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) { return; }
    loadingUsage(link.closest(".presets") ? link.textContent.trim() : "the top accounts by " + link.textContent.trim());
  });
  document.addEventListener("submit", function (e) {
    if (e.target.matches && e.target.matches(".period-form")) { loadingUsage("the period"); }
  });
  // Back to a page the browser kept: it is not loading anything.
  window.addEventListener("pageshow", function () {
    var note = document.getElementById("usage-loading");
    if (!note || !note.textContent) { return; }
    note.textContent = "";
    document.documentElement.classList.remove("loading");
    Array.prototype.forEach.call(document.querySelectorAll("[data-usage-content][aria-busy]"), function (part) {
      part.removeAttribute("aria-busy");
    });
  });

  // A view whose address held values the server corrected (a page past the end, a sort it cannot give) says so in a
  // note and carries its own address: the address bar takes it, so a reload or a bookmark asks for what is shown.
  function correctAddress() {
    var view = document.querySelector("[data-view-url]");
    var url = view && view.getAttribute("data-view-url");
    if (url && url !== location.pathname + location.search) { history.replaceState(history.state, "", url); }
  }
  document.addEventListener("DOMContentLoaded", correctAddress);
  document.addEventListener("htmx:afterSettle", correctAddress);

  // A button that shows or hides a part of the page (the phone's Filters); it names what the hidden part holds.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-toggles]");
    var part = button && document.getElementById(button.getAttribute("data-toggles"));
    if (!part) { return; }
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    part.classList.toggle("open", open);
  });
  document.addEventListener("change", function (e) {
    var part = e.target.closest && e.target.closest("#more-filters");
    var summary = document.querySelector(".filters-toggle .filters-summary");
    if (!part || !summary) { return; }
    var checked = Array.prototype.map.call(part.querySelectorAll("input[name=status]:checked"), function (box) {
      return box.parentNode.textContent.trim();
    });
    summary.textContent = ": " + checked.join(", ");
  });

  // A message's ✕ removes it; a success message also goes by itself after a while (an error stays until dismissed).
  document.addEventListener("click", function (e) {
    var close = e.target.closest && e.target.closest("[data-dismiss]");
    if (close) {
      var message = close.closest(".flash");
      if (message) { message.remove(); }
    }
  });
  function fadeSuccess() {
    var ok = document.querySelector("#flash .flash-ok");
    if (ok) {
      window.setTimeout(function () { if (ok.isConnected) { ok.remove(); } }, 10000);
    }
  }
  document.addEventListener("DOMContentLoaded", fadeSuccess);
  document.addEventListener("htmx:afterSettle", fadeSuccess);

  document.addEventListener("htmx:afterSettle", function (e) {
    // detail.elt is the element settled; the link that asked is the request's.
    var trigger = e.detail.requestConfig && e.detail.requestConfig.elt, panel = e.target;
    if (trigger && trigger.closest && trigger.closest(".pager")) {
      // The banner and Add Account, swapped out of band with the panel, need nothing.
      if (!panel.querySelector(".pager")) { return; }
      // Next › was at the bottom of the old page: the new one starts at the top of the table.
      if (panel.getBoundingClientRect().top < 0) { panel.scrollIntoView({ block: "start" }); }
      var count = panel.querySelector(".count");
      if (count) {
        count.setAttribute("tabindex", "-1");
        count.focus({ preventScroll: true });
      }
      return;
    }
    var active = document.activeElement;
    if ((!active || active === document.body) && !shownDialog() && lastFocused && !lastFocused.isConnected) {
      focusNear(lastFocused);
    }
  });
})();
