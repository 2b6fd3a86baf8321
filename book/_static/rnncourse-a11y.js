// The course's accessibility script (issue 24), added to every page by rnncourse/a11y.py.
// The colour mode switch is named "Color mode" (book/_templates/theme-switcher.html); this
// adds the mode it is in now as its description, so a screen reader says "Color mode,
// button, dark" and says the new mode after each press.
(function () {
  "use strict";
  var names = { light: "light", dark: "dark", auto: "as the system" };
  function describe() {
    var mode = document.documentElement.dataset.mode || "auto";
    document.querySelectorAll(".theme-switch-button").forEach(function (button) {
      button.setAttribute("aria-description", "now " + (names[mode] || mode));
    });
  }
  new MutationObserver(describe).observe(document.documentElement,
    { attributes: true, attributeFilter: ["data-mode"] });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", describe);
  } else {
    describe();
  }
})();
