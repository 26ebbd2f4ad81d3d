// The run page's "Copy link" button: copies the permanent link (with the chart's scale, if the
// log scale is on) with the Clipboard API, or, where that is refused (an http page, an old
// browser), with a selected text field and execCommand; failing both, it shows the link selected
// for the person to copy. The button is hidden without JavaScript (no-script.css; the link is on the page).
(function () {
  "use strict";

  function linkToCopy(button) {
    var url = new URL(button.dataset.url, window.location.href);
    var scale = new URL(window.location.href).searchParams.get("scale");
    if (scale === "log") {
      url.searchParams.set("scale", "log");
    }
    return url.toString();
  }

  function fallbackCopy(text) {
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.className = "visually-hidden";
    document.body.appendChild(field);
    field.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    document.body.removeChild(field);
    return copied;
  }

  function start() {
    var button = document.getElementById("copy-link");
    var status = document.getElementById("copy-status");
    if (!button) {
      return;
    }
    button.addEventListener("click", function () {
      var text = linkToCopy(button);
      function done(copied) {
        status.textContent = copied ? "Link copied." : "Copy this link: " + text;
        button.dataset.copied = copied ? "true" : "false";
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { done(true); },
          function () { done(fallbackCopy(text)); }
        );
      } else {
        done(fallbackCopy(text));
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
