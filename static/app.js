// Creditdesk console behaviour: the Update Promo Credit modal's manners (focus, Esc, Cancel),
// the note's character count, a confirmation before a large change, and one before promo
// credits are turned off in a currency. Every page works
// without this file; it only makes the modal pleasant. No inline code: the CSP forbids it.
(function () {
  "use strict";

  var LARGE_CHANGE = 10000;
  var LARGE_FACTOR = 10;
  var NOTE_LIMIT = 250;

  function openDialog() {
    return document.querySelector("#modal [role=dialog]");
  }

  function updateButton() {
    return document.getElementById("update-promo-credit-button");
  }

  function closeModal() {
    var root = document.getElementById("modal");
    if (root) root.innerHTML = "";
    var button = updateButton();
    if (button) button.focus();
  }

  function noteLength(text) {
    return Array.from(text.replace(/\r\n?/g, "\n").trim()).length;
  }

  function updateCount(note) {
    var counter = document.getElementById("note-count");
    if (!counter) return;
    var length = noteLength(note.value);
    counter.textContent = length + " / " + NOTE_LIMIT;
    counter.classList.toggle("over", length > NOTE_LIMIT);
  }

  // The signed change the form asks for, or null when the amount is not valid yet.
  function plannedDelta(form) {
    var mode = form.querySelector("input[name=mode]:checked");
    var amount = form.querySelector("input[name=amount]");
    var match = /^[ \t\n\f\r]*([+-]?)([0-9]{1,13})[ \t\n\f\r]*$/.exec(amount ? amount.value : "");
    if (!match || !mode) return null;
    var value = Number(match[2]);
    var balance = Number(form.getAttribute("data-balance") || "0");
    if (mode.value === "set") return match[1] === "-" ? null : value - balance;
    return match[1] === "-" ? -value : value;
  }

  function isLarge(delta, balance) {
    var size = Math.abs(delta);
    return size >= LARGE_CHANGE || (balance > 0 && size >= LARGE_FACTOR * balance);
  }

  // When the modal arrives, focus its first field (or the first with an error); when the
  // panel comes back after a change, focus returns to the Update button.
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = openDialog();
    var target = event.detail.target;
    // Only when the modal itself arrives (or comes back with errors), not on a preview update.
    if (dialog && target && target.id === "modal") {
      var field = dialog.querySelector("[aria-invalid=true]") || dialog.querySelector("#amount");
      if (field) field.focus();
      var note = dialog.querySelector("#note");
      if (note) updateCount(note);
      return;
    }
    if (target && target.id === "promo-credits-panel") {
      var button = updateButton();
      if (button && document.querySelector("#promo-credits-panel .alert.success")) button.focus();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && openDialog()) {
      event.preventDefault();
      closeModal();
    }
  });

  // Cancel closes the modal in place (capture phase: before htmx follows the link).
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-close-modal]");
    if (cancel && openDialog()) {
      event.preventDefault();
      event.stopImmediatePropagation();
      closeModal();
    }
  }, true);

  document.addEventListener("input", function (event) {
    if (event.target.id === "note") updateCount(event.target);
  });

  // A large change asks first (capture phase: before htmx sends the form).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.id !== "update-promo-credit") return;
    var delta = plannedDelta(form);
    if (delta === null) return;
    var balance = Number(form.getAttribute("data-balance") || "0");
    if (!isLarge(delta, balance)) return;
    var question = "This is a large change: " + balance.toLocaleString("en") + " → " +
      (balance + delta).toLocaleString("en") + " credits (" + (delta > 0 ? "+" : "") +
      delta.toLocaleString("en") + "). Apply it?";
    if (!window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // A form marked data-confirm (disable an admin, revoke a key, …) asks before it is sent.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Turning promo credits off in a currency asks first, and says what it means.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.id !== "promo-credit-config") return;
    if (event.submitter && event.submitter.value === "preview") return;
    var enabled = form.querySelector("input[name=enabled]");
    if (form.getAttribute("data-was-enabled") !== "true" || !enabled || enabled.checked) return;
    var code = form.getAttribute("data-currency");
    var question = "Turn promo credits off in " + code + "? No credit can then be added, " +
      "deducted or spent in " + code + ". Balances stay visible and exportable, and refunds " +
      "still return credits.";
    if (!window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // The first page load with the modal open (no-JS full page): count the note too.
  document.addEventListener("DOMContentLoaded", function () {
    var note = document.getElementById("note");
    if (note) updateCount(note);
  });
})();
