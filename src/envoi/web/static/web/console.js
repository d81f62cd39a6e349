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
    if (event.target.matches("[data-autosubmit]")) { event.target.form.submit(); }
    if (event.target.form && event.target.form.hasAttribute("data-schedule-form")) {
      syncSchedule(event.target.form);
    }
  });

  // The delivery form: the recurring schedule's fields show once "Recurring delivery" is
  // ticked, each kind of repeat shows its own fields, and "Request confirmation before
  // sending" applies only with no aggregation period. The server has the last word.
  function syncSchedule(form) {
    var recurring = form.querySelector("#id_recurring");
    if (!recurring) { return; }
    var every = form.querySelector("#id_every").value;
    form.querySelector("[data-recurrence]").hidden = !recurring.checked;
    form.querySelectorAll("[data-every]").forEach(function (field) {
      field.hidden = field.getAttribute("data-every").split(" ").indexOf(every) === -1;
    });
    form.querySelector("#id_request_confirmation").disabled =
      form.querySelector("#id_aggregation").value !== "none";
  }
  document.querySelectorAll("form[data-schedule-form]").forEach(syncSchedule);

  // The sending progress bar's width: set here, as the page allows no inline style.
  function sizeProgressBars(root) {
    root.querySelectorAll("[data-progress-width]").forEach(function (bar) {
      bar.style.width = bar.getAttribute("data-progress-width") + "%";
    });
  }
  // Sized as soon as a refresh is swapped in, before the browser paints it.
  sizeProgressBars(document);
  document.addEventListener("htmx:afterSwap", function () { sizeProgressBars(document); });

  // Charts: the server writes each one's figures as JSON beside its canvas (see
  // envoi/web/charts.py); Chart.js draws them with axes and hover values, in the page's
  // language. A refresh of the Deployment block brings new canvases, drawn once each.
  var CHART_COLOURS = {opens: "#1a5fd0", clicks: "#f39c12", sent: "#1b7a3a", failed: "#c0392b"};
  function drawCharts(root) {
    if (!window.Chart) { return; }
    var locale = document.documentElement.lang || "en";
    root.querySelectorAll("canvas[data-chart]:not([data-drawn])").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      canvas.setAttribute("data-drawn", "");
      var horizontal = spec.kind === "hbar";
      new window.Chart(canvas, {
        type: spec.kind === "line" ? "line" : "bar",
        data: {
          labels: spec.labels,
          datasets: spec.series.map(function (series) {
            var colour = CHART_COLOURS[series.key] || "#475569";
            return {label: series.label, data: series.values, backgroundColor: colour,
                    borderColor: colour, pointRadius: 2, tension: 0.2};
          })
        },
        options: {
          locale: locale, indexAxis: horizontal ? "y" : "x", animation: false,
          maintainAspectRatio: false, interaction: {mode: "index", intersect: false},
          plugins: {legend: {display: spec.series.length > 1}},
          scales: {
            x: {title: {display: true, text: spec.x_title}, beginAtZero: horizontal,
                ticks: {autoSkip: true, maxRotation: 0, precision: horizontal ? 0 : undefined}},
            y: {title: {display: true, text: spec.y_title}, beginAtZero: !horizontal,
                ticks: {precision: spec.kind === "line" ? undefined : 0}}
          }
        }
      });
    });
  }
  drawCharts(document);
  document.addEventListener("htmx:afterSettle", function () { drawCharts(document); });

  // A captured message's frame grows to the message's height (the frame keeps its own
  // origin for this, and runs no script of its own: see web/views/outbox.py).
  function growFrame(frame) {
    try {
      var inner = frame.contentDocument && frame.contentDocument.documentElement;
      if (inner) { frame.style.height = (inner.scrollHeight + 2) + "px"; }
    } catch (e) { /* another origin: the frame keeps its CSS height */ }
  }
  document.querySelectorAll("iframe[data-grow]").forEach(function (frame) {
    frame.addEventListener("load", function () { growFrame(frame); });
    growFrame(frame);
  });

  // A live region that is being watched stops being refreshed while a dialog is open.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.querySelector("dialog[open]") && event.detail.elt.id === "live") {
      event.preventDefault();
    }
  });
})();
