/* DCC web pages: directory search-as-you-type and the decision form. No framework, no CDN. */
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  // Inputs with data-lookup fill their <datalist> from the directory as the user types.
  function lookup(input) {
    var list = input.list;
    if (!list) { return; }
    var text = input.value.trim();
    if (text.length < 2) { return; }
    fetch(input.getAttribute("data-lookup") + "?q=" + encodeURIComponent(text), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (items) {
        list.textContent = "";
        items.forEach(function (item) {
          var option = document.createElement("option");
          option.value = item.value;
          option.label = item.label + (item.detail ? " (" + item.detail + ")" : "");
          option.textContent = option.label;
          list.appendChild(option);
        });
      })
      .catch(function () { /* the field still accepts a typed number */ });
  }

  document.querySelectorAll("input[data-lookup]").forEach(function (input) {
    input.addEventListener("input", debounce(function () { lookup(input); }, 200));
  });

  // Decision forms: the target session and reason fields matter only for some decisions.
  document.querySelectorAll("form[data-decision-form]").forEach(function (form) {
    function sync() {
      var checked = form.querySelector("input[name=decision]:checked");
      var value = checked ? checked.value : "";
      var target = form.querySelector("select[name=target_session_id]");
      var reason = form.querySelector("input[name=reason]");
      if (target) { target.required = value === "deferred"; }
      if (reason) { reason.required = value === "refused"; }
    }
    form.addEventListener("change", sync);
    sync();
  });

  // Copy buttons (feed links).
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (target && navigator.clipboard) {
        navigator.clipboard.writeText(target.value || target.textContent);
        button.textContent = "Lien copié";
      }
    });
  });
})();
