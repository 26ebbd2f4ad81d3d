// Turn every <select data-tom-select> into a Tom Select: type a name, a UN code ("250"), an ISO3
// code ("FRA") or a common name ("USA") to filter; the dropdown shows each region's codes.
// Without JavaScript the plain <select> still works (Ctrl-click to choose several).
(function () {
  "use strict";

  function enhance(select) {
    var multiple = select.multiple;
    var limit = select.dataset.maxItems ? Number(select.dataset.maxItems) : null;
    // A shared link may hold more regions than the limit: keep them all, so the server's message
    // ("Choose at most 20 regions; 21 were given") matches what the box shows, none dropped silently.
    var chosen = select.selectedOptions ? select.selectedOptions.length : 0;
    var maxItems = limit !== null ? Math.max(limit, chosen) : null;
    var label = document.querySelector("label[for='" + select.id + "']");
    var name = label ? label.textContent.trim() : "";
    new TomSelect(select, {
      // A single choice searches in the dropdown: Tom Select's hidden in-box input would refuse
      // pasted text once a region is chosen.
      plugins: multiple ? ["remove_button"] : ["dropdown_input"],
      maxItems: multiple ? maxItems : 1,
      maxOptions: null,
      allowEmptyOption: !multiple,
      hideSelected: multiple,
      closeAfterSelect: !multiple,
      clearAfterSelect: true,
      searchField: ["text", "code", "iso3", "aliases"],
      placeholder: multiple ? "Type a region, country, code or ISO3…" : undefined,
      render: {
        option: function (data, escape) {
          var codes = [data.code, data.iso3].filter(Boolean).map(escape).join(" · ");
          return "<div>" + escape(data.text) +
            (codes ? ' <span class="option-codes">' + codes + "</span>" : "") + "</div>";
        },
        no_results: function () {
          return '<div class="no-results">No region matches</div>';
        },
      },
    });
    // Tom Select points the label at its own input; the original select, kept for the form and
    // for assistive technology, keeps its name.
    if (name) {
      select.setAttribute("aria-label", name);
      var input = document.getElementById(select.id + "-ts-control");
      if (input && !input.getAttribute("aria-label") && !document.querySelector("label[for='" + input.id + "']")) {
        input.setAttribute("aria-label", name);
      }
    }
  }

  function start() {
    if (typeof TomSelect === "undefined") {
      return;
    }
    document.querySelectorAll("select[data-tom-select]").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
