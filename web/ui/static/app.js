// idem admin UI: progressive enhancement only. Every action is a plain
// form or link that works without this file.
(function () {
  "use strict";

  // Keyboard shortcuts: an element with data-key="m" is clicked when m is
  // pressed (on the compare page: m link, n not a duplicate, s skip).
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) {
      return;
    }
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
      return;
    }
    var el = document.querySelector('[data-key="' + ev.key.toLowerCase() + '"]');
    if (el && !el.disabled) {
      ev.preventDefault();
      el.classList.add("pressed");
      el.click();
    }
  });

  // Forms marked data-confirm ask before they post (revoking a client,
  // removing a rule, undoing a decision).
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  });

  // A form submits once: a second click while the first is in flight
  // would ask the same question twice.
  document.addEventListener("submit", function (ev) {
    if (ev.defaultPrevented || ev.target.method !== "post") {
      return;
    }
    if (ev.target.dataset.sent) {
      ev.preventDefault();
      return;
    }
    ev.target.dataset.sent = "1";
  });

  // Select-all text of the shown-once token when clicked.
  var token = document.querySelector(".token");
  if (token) {
    token.addEventListener("click", function () {
      var r = document.createRange();
      r.selectNodeContents(token);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
    });
  }
})();
