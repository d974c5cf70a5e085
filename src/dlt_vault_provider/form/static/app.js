// Small helps only: the form works without any of this.
(function () {
  "use strict";
  function toggle(select) {
    var scope = select.closest("form") || document;
    scope.querySelectorAll("[data-for]").forEach(function (el) {
      var on = el.getAttribute("data-for").split(" ").indexOf(select.value) >= 0;
      el.hidden = !on;
      el.querySelectorAll("input, select, textarea").forEach(function (i) { i.disabled = !on; });
    });
  }
  document.querySelectorAll("select[data-toggle]").forEach(function (select) {
    toggle(select);
    select.addEventListener("change", function () { toggle(select); });
  });
  // Engine change: fill in its default port, unless the port was typed by hand.
  var engine = document.getElementById("f-engine"), port = document.getElementById("f-port");
  if (engine && port) {
    var ports = JSON.parse(engine.getAttribute("data-ports"));
    engine.addEventListener("change", function () {
      var defaults = Object.keys(ports).map(function (k) { return String(ports[k]); });
      if (!port.value || defaults.indexOf(port.value) >= 0) { port.value = ports[engine.value]; }
    });
  }
  // Test connection without leaving the page (and without losing typed secrets).
  var form = document.getElementById("entry-form"), button = document.getElementById("test-button");
  var out = document.getElementById("probe-result");
  if (form && button && out && window.fetch) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var data = new URLSearchParams(new FormData(form));
      var root = document.body.getAttribute("data-root") || "";
      var parts = location.pathname.slice(root.length).split("/");
      var name = (form.querySelector("[name=name]") || {}).value || parts[3] || "";
      data.set("name", name);
      out.hidden = false; out.className = "notice"; out.textContent = "Testing…";
      fetch(root + "/entries/test/" + form.getAttribute("data-kind"), { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) {
          if ((r.headers.get("content-type") || "").indexOf("json") < 0) { return { ok: false, message: "the app answered HTTP " + r.status + "; reload the page and try again." }; }
          return r.json();
        })
        .then(function (r) { out.className = r.ok ? "ok" : "alert"; out.textContent = "Test connection: " + (r.ok ? "success. " : "failed. ") + r.message; })
        .catch(function () { out.className = "alert"; out.textContent = "Test connection: the app could not be reached."; });
    });
  }
})();
