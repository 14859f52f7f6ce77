// The inbox's keyboard shortcuts (a file: the Content-Security-Policy allows no inline code).
// "/" focuses the search box, "j"/"k" move the selection down/up, Enter opens the selected ticket.
"use strict";
(() => {
  const rows = () => Array.from(document.querySelectorAll(".inbox-list tbody tr[data-href]"));
  let current = -1;
  const select = (index) => {
    const all = rows();
    if (all.length === 0) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => row.classList.toggle("selected", i === current));
    all[current].setAttribute("aria-selected", "true");
    all[current].scrollIntoView({ block: "nearest" });
  };
  // Submit only the filters that are set: short, readable links (the server ignores empty ones anyway).
  const filters = document.querySelector(".inbox-filters");
  if (filters) {
    filters.addEventListener("submit", () => {
      filters.querySelectorAll("input[name], select[name]").forEach((field) => {
        if (!field.value) field.disabled = true;
      });
    });
  }
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (typing || event.ctrlKey || event.metaKey || event.altKey) {
      if (typing && event.key === "Escape" && target instanceof HTMLElement) target.blur();
      return;
    }
    if (event.key === "/") {
      const search = document.getElementById("q");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "j") {
      select(current + 1);
    } else if (event.key === "k") {
      select(current - 1);
    } else if (event.key === "Enter" && current >= 0) {
      const row = rows()[current];
      if (row && row.dataset.href) window.location.assign(row.dataset.href);
    }
  });
})();
