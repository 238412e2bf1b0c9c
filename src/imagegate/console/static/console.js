// Copy buttons of the catalogue: the only script of the console (served from 'self', CSP).
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.copy");
  if (!button) return;
  var text = button.getAttribute("data-copy");
  var toast = document.getElementById("copied");
  function done(ok) { if (toast) toast.textContent = ok ? "Copied: " + text : "Select the line and copy it"; }
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
  } else {
    done(false);
  }
});
