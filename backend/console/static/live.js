// Live updates (server-sent events from /console/events), served as a file: the CSP allows no inline code.
// - The ticket list refreshes its table in place when a ticket in the official's scope changes; while the official
//   is typing in a field of the list, the refresh waits until the field loses focus.
// - A ticket page that changed reloads, unless a text field has text in it: then a banner offers "Tải lại".
// - A new urgent ticket raises a browser notification (permission is asked on a click of "Bật thông báo").
"use strict";
(() => {
  if (!("EventSource" in window)) return;
  const banner = document.getElementById("live-banner");
  const path = window.location.pathname.replace(/\/+$/, "");
  const onList = path === "/console";
  const ticketMatch = path.match(/^\/console\/tickets\/([^/]+)$/);
  const ticketCode = ticketMatch ? decodeURIComponent(ticketMatch[1]).toUpperCase() : null;
  let refreshing = false;
  let pending = false;

  const typing = () => {
    const active = document.activeElement;
    return active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement || active instanceof HTMLSelectElement;
  };
  const hasDraft = () =>
    Array.from(document.querySelectorAll("main textarea, main input[type=text]")).some((f) => f.value.trim() !== "" && f.value !== f.defaultValue);  // edited by the official, not pre-filled

  const listRegion = (doc) => doc.querySelector("[data-live-list]") || doc.querySelector(".table-wrap") || doc.querySelector("main");

  async function refreshList() {
    if (refreshing) { pending = true; return; }
    if (typing()) { pending = true; return; }
    refreshing = true;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } });
      if (response.redirected || !response.ok) { window.location.reload(); return; }
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const next = listRegion(fresh);
      const current = listRegion(document);
      if (next && current) {
        current.replaceWith(next);
        next.classList.add("live-fresh");
        const heading = document.querySelector("main h2");
        const freshHeading = fresh.querySelector("main h2");
        if (heading && freshHeading) heading.textContent = freshHeading.textContent;
        document.dispatchEvent(new CustomEvent("gopy:list-refreshed"));
      }
    } catch (_error) {
      pending = true; // offline for a moment: try again on the next change
    } finally {
      refreshing = false;
      if (pending && !typing()) { pending = false; refreshList(); }
    }
  }

  document.addEventListener("focusout", () => {
    if (onList && pending) window.setTimeout(() => { if (!typing() && pending) { pending = false; refreshList(); } }, 200);
  });

  function showBanner() {
    if (banner) banner.hidden = false;
  }
  const reloadButton = document.getElementById("live-reload");
  if (reloadButton) reloadButton.addEventListener("click", () => window.location.reload());

  const notifyButton = document.getElementById("live-notify");
  if (notifyButton && "Notification" in window && Notification.permission === "default") {
    notifyButton.hidden = false;
    notifyButton.addEventListener("click", () => {
      Notification.requestPermission().then(() => { notifyButton.hidden = true; });
    });
  }
  function notifyUrgent(code) {
    if (!("Notification" in window) || Notification.permission !== "granted" || !banner) return;
    const body = (banner.dataset.urgentBody || "").replace("{code}", code);
    const note = new Notification(banner.dataset.urgentTitle || "", { body, tag: "gopy-" + code });
    note.addEventListener("click", () => { window.focus(); window.location.href = "/console/tickets/" + encodeURIComponent(code); });
  }

  function onTicket(change) {
    if (change.kind === "urgent") notifyUrgent(change.code);
    if (onList) refreshList();
    else if (ticketCode && change.code.toUpperCase() === ticketCode) {
      if (hasDraft()) showBanner();
      else window.location.reload();
    }
  }

  let source = null;
  function connect() {
    source = new EventSource("/console/events");
    source.addEventListener("ticket", (event) => {
      try { onTicket(JSON.parse(event.data)); } catch (_error) { /* a malformed event is ignored */ }
    });
    source.addEventListener("open", () => document.documentElement.setAttribute("data-live", "on"));
    source.addEventListener("bye", () => { source.close(); window.setTimeout(connect, 3000); });
  }
  connect();
  window.addEventListener("pagehide", () => { if (source) source.close(); });
})();
