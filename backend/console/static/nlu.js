// The NLU workbench (/console/nlu): keyboard labelling of both queues and the training job's live progress.
// Keys (outside text fields): j / k move between items, digits pick the label by its number (two digits typed
// quickly make 10–15), Enter accepts or labels the selected item, x rejects it. Forms post in the background and the
// item leaves the queue; a refusal is shown on the item. Everything works without this script too.
(function () {
  "use strict";
  var items = [];
  var current = -1;
  var digits = "";
  var digitTimer = null;

  function collect() {
    items = Array.prototype.slice.call(document.querySelectorAll(".nlu-item"));
  }

  function select(i) {
    if (!items.length) { current = -1; return; }
    current = Math.max(0, Math.min(items.length - 1, i));
    items.forEach(function (el, n) { el.classList.toggle("selected", n === current); });
    items[current].focus({ preventScroll: true });
    items[current].scrollIntoView({ block: "nearest" });
  }

  function pickLabel(number) {
    var item = items[current];
    if (!item) { return; }
    var sel = item.querySelector("select.nlu-label");
    if (sel && number >= 1 && number <= sel.options.length) { sel.selectedIndex = number - 1; }
  }

  function post(form) {
    var item = form.closest(".nlu-item");
    var data = new FormData(form);
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    return fetch(form.action, {
      method: "POST", body: new URLSearchParams(data), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (res.ok) {
        var i = items.indexOf(item);
        item.remove();
        collect();
        select(i);
      } else {
        showError(item, res.body.error || "Không thực hiện được thao tác.");
        if (button) { button.disabled = false; }
      }
    }).catch(function () {
      showError(item, "Mất kết nối, vui lòng thử lại.");
      if (button) { button.disabled = false; }
    });
  }

  function showError(item, text) {
    var p = item.querySelector(".error");
    if (!p) {
      p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      item.appendChild(p);
    }
    p.textContent = text;
  }

  function onKey(e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) { return; }
    if (e.key === "j") { select(current + 1); e.preventDefault(); return; }
    if (e.key === "k") { select(current - 1); e.preventDefault(); return; }
    var item = items[current];
    if (!item) { return; }
    if (/^[0-9]$/.test(e.key)) {
      digits += e.key;
      clearTimeout(digitTimer);
      var n = parseInt(digits, 10);
      pickLabel(n === 0 ? 10 : n);
      digitTimer = setTimeout(function () { digits = ""; }, 700);
      if (digits.length >= 2) { digits = ""; }
      e.preventDefault();
      return;
    }
    if (e.key === "Enter" && t === item) {
      var accept = item.querySelector("form.nlu-accept");
      if (accept) { post(accept); }
      e.preventDefault();
    } else if (e.key === "x") {
      var reject = item.querySelector("form.nlu-reject");
      if (reject) { post(reject); }
      e.preventDefault();
    }
  }

  function bindForms() {
    document.querySelectorAll(".nlu-item form").forEach(function (form) {
      form.addEventListener("submit", function (e) { e.preventDefault(); post(form); });
    });
    items.forEach(function (el, n) {
      el.addEventListener("click", function () { if (current !== n) { current = n; select(n); } });
    });
  }

  function pollJob() {
    var box = document.getElementById("nlu-job");
    if (!box) { return; }
    var status = box.getAttribute("data-status");
    if (status !== "queued" && status !== "running") { return; }
    var bar = document.getElementById("nlu-progress");
    var pct = document.getElementById("nlu-pct");
    var log = document.getElementById("nlu-log");
    var label = box.querySelector(".nlu-status");
    function tick() {
      fetch(box.getAttribute("data-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          bar.value = job.progress;
          pct.textContent = Math.round(job.progress * 100) + "%";
          log.textContent = (job.log || []).join("\n");
          label.textContent = job.status_name;
          box.setAttribute("data-status", job.status);
          if (job.status === "done" || job.status === "failed") {
            window.location.replace("/console/nlu?job=" + job.id + "#train");
          } else {
            setTimeout(tick, 1000);
          }
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    setTimeout(tick, 500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    collect();
    bindForms();
    document.addEventListener("keydown", onKey);
    pollJob();
  });
})();
