// The ticket page's template picker: choosing a reply template fills the reply box at once (still editable).
// Without this script the picker is a form: "Dùng mẫu" reloads the page with the text filled by the server.
"use strict";
(() => {
  const picker = document.getElementById("template-picker");
  const select = document.getElementById("template");
  const box = document.getElementById("reply-text");
  if (!picker || !(select instanceof HTMLSelectElement) || !(box instanceof HTMLTextAreaElement)) {
    return;
  }
  const fill = () => {
    const option = select.selectedOptions[0];
    if (!option || !option.value) {
      return false;
    }
    box.value = option.dataset.text || "";
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    return true;
  };
  select.addEventListener("change", fill);
  picker.addEventListener("submit", (event) => {
    event.preventDefault();
    fill();
  });
})();
