// The console's own script: small, and the pages work without it where they can.
(function () {
  "use strict";

  // Times are shown in the reader's zone: tell the server which one it is.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("envoi_tz=" + zone) === -1) {
      document.cookie = "envoi_tz=" + zone + "; path=/; SameSite=Lax; max-age=31536000";
    }
  } catch (e) { /* no Intl: times stay in UTC, and say so */ }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) { event.target.form.submit(); }
  });

  // A live region that is being watched stops being refreshed while a dialog is open.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.querySelector("dialog[open]") && event.detail.elt.id === "live") {
      event.preventDefault();
    }
  });
})();
