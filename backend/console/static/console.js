// The console's only script, served as a file: the Content-Security-Policy allows no inline code.
// Progressive enhancement: every form works without it.
"use strict";
document.documentElement.classList.add("js");
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.dataset.autosubmit !== undefined && target.form) {
    target.form.submit();
  }
});
