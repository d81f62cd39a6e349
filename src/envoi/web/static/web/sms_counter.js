// The SMS fields of the delivery form: shown for the SMS channel (with the email-only
// fields hidden), and a live counter of the text's encoding, length and parts. The
// counting is the server's (envoi.sending.channels.sms.segments): GSM 03.38 7-bit with
// the extension table counting twice (160, or 153 per part), else UCS-2 in UTF-16 code
// units (70, or 67 per part); a part never splits an escape or a surrogate pair.
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "\f^{}\\[~]|€";
  var EMAIL_ONLY = ["reply_to", "subject", "html_body"];

  function isGsm(ch) { return BASIC.indexOf(ch) >= 0 || EXTENDED.indexOf(ch) >= 0; }

  function count(text) {
    var chars = Array.from(text);
    var gsm = chars.every(isGsm);
    var sizes = chars.map(function (ch) {
      if (gsm) { return EXTENDED.indexOf(ch) >= 0 ? 2 : 1; }
      return ch.codePointAt(0) > 0xFFFF ? 2 : 1;
    });
    var units = sizes.reduce(function (a, b) { return a + b; }, 0);
    var single = gsm ? 160 : 70, perPart = gsm ? 153 : 67;
    var parts = 1;
    if (units > single) {
      var used = 0;
      sizes.forEach(function (size) {
        if (used + size > perPart) { parts += 1; used = 0; }
        used += size;
      });
    }
    return {gsm: gsm, units: units, parts: parts, chars: chars, single: single,
            perPart: perPart};
  }

  // With "Shorten and track the links", each web address goes out as a short link of
  // a known length (envoi.sending.channels.sms.links finds them the same way).
  var URL = /https?:\/\/(?:\{\{.*?\}\}|[^\s{}<>"'])+/gi;
  var TRAILING = ".,;:!?)]";

  function shortened(text, length) {
    return text.replace(URL, function (url) {
      var kept = url;
      while (kept && TRAILING.indexOf(kept.charAt(kept.length - 1)) >= 0) {
        kept = kept.slice(0, -1);
      }
      return "x".repeat(length) + url.slice(kept.length);
    });
  }

  function fieldOf(form, name) {
    var input = form.querySelector("[name=" + name + "]");
    return input ? input.closest(".field") : null;
  }

  function sync(form) {
    var channel = form.querySelector("[name=channel]");
    var sms = channel && channel.value === "sms";
    var box = form.querySelector("[data-sms-fields]");
    if (!box) { return; }
    box.hidden = !sms;
    EMAIL_ONLY.forEach(function (name) {
      var field = fieldOf(form, name);
      if (field) { field.hidden = sms; }
    });
    if (sms) { update(form, box); }
  }

  function update(form, box) {
    var typed = form.querySelector("[name=text_body]").value, text = typed;
    var counter = box.querySelector("[data-sms-counter]");
    var track = form.querySelector("[name=track_links]");
    if (track && track.checked) {
      text = shortened(text, parseInt(counter.getAttribute("data-short-length"), 10) || 0);
    }
    var result = count(text);
    box.querySelector("[data-sms-encoding]").textContent =
      counter.getAttribute(result.gsm ? "data-label-gsm7" : "data-label-ucs2");
    box.querySelector("[data-sms-units]").textContent = result.units;
    box.querySelector("[data-sms-parts]").textContent = result.parts;
    box.querySelector("[data-sms-limit]").textContent = "(" + (result.parts > 1 ?
      result.perPart : result.single) + " " + counter.getAttribute("data-label-per-part") + ")";
    counter.classList.toggle("ucs2", !result.gsm);
    var preview = box.querySelector("[data-sms-preview]");
    preview.textContent = "";
    var forcing = 0;
    Array.from(typed).forEach(function (ch) {
      if (!isGsm(ch)) {
        var mark = document.createElement("mark");
        mark.textContent = ch;
        preview.appendChild(mark);
        forcing += 1;
      } else {
        preview.appendChild(document.createTextNode(ch));
      }
    });
    box.querySelector("[data-sms-forcing-note]").hidden = forcing === 0;
    preview.hidden = forcing === 0;
  }

  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (form && form.querySelector("[data-sms-fields]")) { sync(form); }
  });
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.querySelector("[data-sms-fields]")) { sync(form); }
  });
  document.querySelectorAll("form").forEach(function (form) {
    if (form.querySelector("[data-sms-fields]")) { sync(form); }
  });
}());
