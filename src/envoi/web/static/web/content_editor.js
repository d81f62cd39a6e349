// The delivery form's content: the content mode, the language variants (tabs), and the
// visual editor (GrapesJS with its MJML plugin). Without this script the form still
// works: every variant's fields are plain form fields.
//
// One editor serves every variant: it edits the MJML of the variant whose tab is open,
// and writes it back into that variant's mjml_body field as it changes, so that what
// is posted is always what the editor shows.
(function () {
  "use strict";

  var form = document.querySelector("form[data-content-form]");
  var configNode = document.getElementById("editor-config");
  if (!form || !configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var EMPTY_MJML = "<mjml><mj-body></mj-body></mjml>";
  var editor = null;
  var active = "default";
  var loading = false;

  function panels(key) {
    return form.querySelectorAll('[data-variant-panel="' + key + '"]');
  }
  function bodyField(key, kind) {
    var found = null;
    panels(key).forEach(function (panel) {
      found = found || panel.querySelector('[data-body="' + kind + '"] textarea');
    });
    return found;
  }
  function mode() {
    var checked = form.querySelector('input[name="content_mode"]:checked');
    return checked ? checked.value : "html";
  }

  // --- The visual editor --------------------------------------------------------

  function editorMjml() {
    return editor ? editor.getHtml() : "";
  }

  // The editor writes MJML its own way (attribute order, spacing): what it loaded is
  // kept as written until the preparer changes something, so that saving an untouched
  // draft changes nothing (and keeps its preparation).
  var loadedAs = null;

  function saveEditor() {
    if (editor && mode() === "visual" && !loading) {
      var field = bodyField(active, "mjml");
      var now = editorMjml();
      if (field && now !== loadedAs) { field.value = now; }
    }
  }

  function loadEditor() {
    var field = bodyField(active, "mjml");
    loading = true;
    editor.setComponents(field && field.value.trim() ? field.value : EMPTY_MJML);
    editor.UndoManager.clear();
    loadedAs = editorMjml();
    loading = false;
    if (field && !field.value.trim()) { field.value = loadedAs; }
  }

  function insertFieldAction() {
    var options = config.fields.map(function (field) {
      var option = document.createElement("option");
      option.value = field[1];
      option.textContent = field[0];
      return option.outerHTML;
    }).join("");
    return {
      name: "envoi-field",
      icon: '<select class="gjs-field envoi-field" data-testid="insert-field" title="' +
        config.texts.insertField + '"><option value="">' + config.texts.insertField +
        "</option>" + options + "</select>",
      event: "change",
      result: function (rte, action) {
        var select = action.btn.querySelector("select");
        if (select.value) {
          rte.insertHTML(select.value);
          // Typing goes on after the field, instead of replacing it.
          var selection = rte.doc && rte.doc.getSelection();
          if (selection && selection.rangeCount) { selection.collapseToEnd(); }
        }
        select.value = "";
      },
      update: function (rte, action) {
        action.btn.querySelector("select").value = "";
      },
    };
  }

  function showUploadError(message) {
    var modal = editor.Modal.getContentEl();
    var shown = modal && modal.querySelector("[data-upload-error]");
    if (!modal) { return; }
    if (!shown) {
      shown = document.createElement("p");
      shown.className = "error upload-error";
      shown.setAttribute("role", "alert");
      shown.setAttribute("data-upload-error", "");
      modal.insertBefore(shown, modal.firstChild);
    }
    shown.textContent = message;
  }

  // The asset manager's upload: the console's endpoint (session and CSRF token), then
  // the returned address goes into the image being edited.
  function uploadFile(event) {
    var files = (event.dataTransfer || event.target).files;
    if (!files || !files.length) { return; }
    var body = new FormData();
    body.append("file", files[0]);
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    fetch(config.uploadUrl, {method: "POST", body: body, credentials: "same-origin",
                             headers: {"X-CSRFToken": token}})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok || !data.url) {
            throw new Error(data.error || config.texts.uploadFailed);
          }
          return data;
        });
      })
      .then(function (data) {
        var existing = editor.Modal.getContentEl().querySelector("[data-upload-error]");
        if (existing) { existing.remove(); }
        editor.AssetManager.add({src: data.url, type: "image"});
        var target = editor.getSelected();
        if (target && target.get("type") === "mj-image") {
          target.addAttributes({src: data.url});
          target.set("src", data.url);
          editor.Modal.close();
        }
      })
      .catch(function (error) { showUploadError(error.message); });
  }

  function startEditor() {
    if (editor) { return; }
    var messages = {};
    messages[config.locale] = config.messages;
    var plugin = window["grapesjs-mjml"];
    editor = window.grapesjs.init({
      container: "#visual-editor-canvas",
      height: "640px",
      fromElement: false,
      cssIcons: config.cssIcons,
      storageManager: false,
      i18n: {locale: config.locale, localeFallback: "en", detectLocale: false,
             messages: messages},
      assetManager: {upload: config.uploadUrl, uploadName: "file", multiUpload: false,
                     uploadFile: uploadFile, autoAdd: true},
      plugins: [plugin],
      pluginsOpts: {"grapesjs-mjml": {
        // A placeholder that the page's policy allows (no third-party image host).
        imagePlaceholderSrc: "data:image/svg+xml;charset=utf-8," + encodeURIComponent(
          '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="200">' +
          '<rect width="600" height="200" fill="#dfe3e8"/></svg>'),
        fonts: {},
        // The plugin adds its English texts over the editor's: ours go last.
        i18n: messages,
      }},
    });
    editor.RichTextEditor.add("envoi-field", insertFieldAction());
    // The blocks are what a marketer starts from: their panel opens first.
    var blocks = editor.Panels.getButton("views", "open-blocks");
    if (blocks) { blocks.set("active", true); }
    editor.on("update", saveEditor);
    editor.on("component:update", saveEditor);
    loadEditor();
  }

  // --- Content mode and variant tabs ----------------------------------------------

  function syncMode() {
    var current = mode();
    form.querySelectorAll("[data-body]").forEach(function (wrapper) {
      var kind = wrapper.getAttribute("data-body");
      wrapper.hidden = current === "html" ? kind !== "html" : kind !== "mjml" || current === "visual";
    });
    var visual = form.querySelector("[data-visual-editor]");
    visual.hidden = current !== "visual";
    if (current === "visual") {
      startEditor();
      loadEditor();
    }
  }

  function select(key) {
    saveEditor();
    active = key;
    form.querySelectorAll("[data-variant-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-variant-panel") !== key;
    });
    form.querySelectorAll("[data-variant-tab]").forEach(function (tab) {
      tab.setAttribute("aria-selected", String(tab.getAttribute("data-variant-tab") === key));
    });
    if (editor && mode() === "visual") { loadEditor(); }
  }

  function languages() {
    var taken = [];
    form.querySelectorAll("[data-variant-language]").forEach(function (input) {
      var panel = input.closest("[data-variant-panel]");
      var removed = form.querySelector("#id_" + panel.getAttribute("data-variant-panel") + "-DELETE");
      if (!(removed && removed.checked)) { taken.push(input.value.trim().toLowerCase()); }
    });
    return taken;
  }

  function addVariant() {
    var input = form.querySelector("#new-variant-language");
    var error = form.querySelector("[data-variant-error]");
    var language = input.value.trim().toLowerCase().replace("_", "-");
    error.hidden = true;
    if (!/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/.test(language)) {
      error.textContent = config.texts.emptyLanguage;
      error.hidden = false;
      return;
    }
    if (languages().indexOf(language) !== -1) {
      error.textContent = config.texts.duplicateLanguage;
      error.hidden = false;
      return;
    }
    saveEditor();
    var total = form.querySelector("#id_variants-TOTAL_FORMS");
    var index = Number(total.value);
    var key = "variants-" + index;
    [["head", "[data-variant-heads]"], ["body", "[data-variant-bodies]"]].forEach(function (part) {
      var template = document.getElementById("variant-" + part[0] + "-template");
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
      form.querySelector(part[1]).appendChild(holder.firstElementChild);
    });
    total.value = String(index + 1);
    form.querySelector("#id_" + key + "-language").value = language;
    // A new variant starts as a copy of the default's body: it is translated, not rebuilt.
    ["html", "mjml"].forEach(function (kind) {
      bodyField(key, kind).value = bodyField("default", kind).value;
    });
    var tab = document.createElement("button");
    tab.type = "button";
    tab.setAttribute("role", "tab");
    tab.setAttribute("data-variant-tab", key);
    tab.textContent = language;
    var tabs = form.querySelector(".variant-tabs");
    tabs.insertBefore(tab, tabs.querySelector(".add-variant"));
    input.value = "";
    prepareRemoval(key);
    syncMode();
    select(key);
  }

  function prepareRemoval(key) {
    panels(key).forEach(function (panel) {
      var button = panel.querySelector("[data-remove-variant]");
      var box = panel.querySelector('input[name$="-DELETE"]');
      if (button && box) {
        box.closest(".field").hidden = true;
        button.hidden = false;
      }
    });
  }

  function removeVariant(key) {
    form.querySelector("#id_" + key + "-DELETE").checked = true;
    form.querySelector('[data-variant-tab="' + key + '"]').hidden = true;
    select("default");
  }

  form.addEventListener("click", function (event) {
    var tab = event.target.closest("[data-variant-tab]");
    if (tab) { select(tab.getAttribute("data-variant-tab")); }
    if (event.target.closest("[data-add-variant]")) { addVariant(); }
    if (event.target.closest("[data-remove-variant]")) {
      removeVariant(event.target.closest("[data-variant-panel]").getAttribute("data-variant-panel"));
    }
  });
  form.querySelector("#new-variant-language").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); addVariant(); }
  });
  form.addEventListener("change", function (event) {
    if (event.target.name === "content_mode") {
      if (event.target.value !== "visual") { saveEditorBeforeLeaving(); }
      syncMode();
    }
  });
  // The mode was "visual" until this change: keep what the editor holds.
  function saveEditorBeforeLeaving() {
    if (!editor) { return; }
    var field = bodyField(active, "mjml");
    var now = editorMjml();
    if (field && now !== loadedAs) { field.value = now; }
  }
  form.addEventListener("submit", saveEditor);
  form.querySelectorAll('[data-variant-panel^="variants-"]').forEach(function (panel) {
    prepareRemoval(panel.getAttribute("data-variant-panel"));
  });
  form.querySelector("[data-visual-editor]").hidden = true;
  syncMode();
  // An invalid variant opens on its tab, where its errors are.
  var invalid = form.querySelector('[data-variant-panel^="variants-"] .invalid');
  if (invalid) { select(invalid.closest("[data-variant-panel]").getAttribute("data-variant-panel")); }
})();
