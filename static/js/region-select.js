// Turn every <select data-tom-select> into a Tom Select: type to filter, keyboard friendly.
// Without JavaScript the plain <select> still works.
(function () {
  "use strict";

  function enhance(select) {
    var multiple = select.multiple;
    var maxItems = select.dataset.maxItems ? Number(select.dataset.maxItems) : null;
    new TomSelect(select, {
      plugins: multiple ? ["remove_button"] : [],
      maxItems: multiple ? maxItems : 1,
      maxOptions: null,
      allowEmptyOption: !multiple,
      hideSelected: multiple,
      closeAfterSelect: !multiple,
      clearAfterSelect: true,
      placeholder: multiple ? "Type a region, country or group…" : undefined,
      render: {
        no_results: function () {
          return '<div class="no-results">No region matches</div>';
        },
      },
    });
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
