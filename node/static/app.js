/* Progressive enhancement only: every form works without this file.
 * - Concept pickers: typing in a "find" field shows live suggestions from
 *   /api/v1/taxonomy/search; choosing one adds a ticked checkbox to the picker's list.
 * - Enter in a find field runs that field's own "Find" button instead of saving the form.
 */
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function addChoice(picker, name, iri, label) {
    var list = document.getElementById(name + "-list");
    if (!list) { return; }
    var existing = picker.querySelectorAll('input[type=checkbox][name="' + name + '"]');
    for (var i = 0; i < existing.length; i++) {
      if (existing[i].value === iri) { existing[i].checked = true; existing[i].focus(); return; }
    }
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    var n = list.querySelectorAll("li").length + 1;
    var id = name + "-js-" + n + "-" + Date.now();
    var li = document.createElement("li");
    var box = document.createElement("input");
    box.type = "checkbox"; box.name = name; box.value = iri; box.id = id; box.checked = true;
    var lab = document.createElement("label");
    lab.htmlFor = id; lab.textContent = label;
    li.appendChild(box); li.appendChild(document.createTextNode(" ")); li.appendChild(lab);
    list.appendChild(li);
  }

  function setupFind(input) {
    var picker = input.closest("[data-picker]");
    var name = input.getAttribute("data-target");
    var kind = input.getAttribute("data-kind");
    var live = document.getElementById(name + "-live");
    var lang = document.documentElement.getAttribute("lang") || "en";
    var button = document.getElementById(input.getAttribute("data-button"));
    // Languages whose labels may suggest: the UI's and the member's own (data-langs); a
    // match in another language is noise ("Schnitt" is not knitting to a German reader).
    var langs = (input.getAttribute("data-langs") || lang).split(" ");
    var box = document.createElement("ul");
    box.className = "suggestions";
    box.id = name + "-suggestions";
    box.hidden = true;
    var wrap = document.createElement("span");
    wrap.className = "find-field";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    wrap.appendChild(box);
    var last = "";

    function show(results, q) {
      box.textContent = "";
      if (!results.length) {
        box.hidden = true;
        if (live) { live.textContent = live.getAttribute("data-nothing") || ""; }
        return;
      }
      results.forEach(function (r) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = r.label + (r.matched && r.matched.toLowerCase() !== r.label.toLowerCase() ? " (" + r.matched + ")" : "");
        b.addEventListener("click", function () {
          addChoice(picker, name, r.iri, r.label);
          input.value = ""; box.hidden = true; box.textContent = "";
        });
        li.appendChild(b);
        box.appendChild(li);
      });
      box.hidden = false;
    }

    var search = debounce(function () {
      var q = input.value.trim();
      if (q === last) { return; }
      last = q;
      if (q.length < 2) { box.hidden = true; return; }
      var url = "/api/v1/taxonomy/search?q=" + encodeURIComponent(q) + "&lang=" + encodeURIComponent(lang) +
        "&kind=" + encodeURIComponent(kind) + "&limit=24";
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) {
          if (input.value.trim() !== q) { return; }
          var kept = (data.results || []).filter(function (r) { return langs.indexOf(r.lang) >= 0; });
          show(kept.slice(0, 8), q);
        })
        .catch(function () { /* the Find button still works */ });
    }, 200);

    input.addEventListener("input", search);
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {
        e.preventDefault();
        if (button) { button.click(); }
      } else if (e.key === "ArrowDown" && !box.hidden) {
        var first = box.querySelector("button");
        if (first) { e.preventDefault(); first.focus(); }
      } else if (e.key === "Escape") {
        box.hidden = true;
      }
    });
    box.addEventListener("keydown", function (e) {
      var items = Array.prototype.slice.call(box.querySelectorAll("button"));
      var i = items.indexOf(document.activeElement);
      if (e.key === "ArrowDown" && i < items.length - 1) { e.preventDefault(); items[i + 1].focus(); }
      if (e.key === "ArrowUp") { e.preventDefault(); (i > 0 ? items[i - 1] : input).focus(); }
      if (e.key === "Escape") { box.hidden = true; input.focus(); }
    });
  }

  document.querySelectorAll("input[data-find]").forEach(setupFind);

  // Copy buttons (the follow handle): shown only where the clipboard API exists.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      field.select();
      navigator.clipboard.writeText(field.value).then(function () {
        button.setAttribute("aria-label", button.getAttribute("data-copied") || button.textContent);
        button.textContent = button.getAttribute("data-copied") || button.textContent;
      });
    });
  });
})();
