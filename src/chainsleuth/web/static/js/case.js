/* The case workspace: keep every form's case version current after an htmx update of this user's own (a note
   bumps the version; without this the next form would be refused as a stale edit that was not one). */
(function () {
  "use strict";
  // htmx "settles" the style attribute of swapped elements that keep their id by writing it back as an inline
  // style, which the Content-Security-Policy (style-src 'self') refuses; the workspace settles classes only.
  if (window.htmx && window.htmx.config) { window.htmx.config.attributesToSettle = ["class", "width", "height"]; }
  document.addEventListener("htmx:afterSwap", function (event) {
    var marker = event.target.querySelector ? event.target.querySelector("[data-case-version]") : null;
    if (!marker && event.target.getAttribute) { marker = event.target.hasAttribute("data-case-version") ? event.target : null; }
    if (!marker) { marker = document.querySelector("#note-form[data-case-version]"); }
    if (!marker) { return; }
    var version = marker.getAttribute("data-case-version");
    Array.prototype.forEach.call(document.querySelectorAll("input.case-version"), function (input) { input.value = version; });
    var graph = document.getElementById("case-graph");
    if (graph) { graph.setAttribute("data-version", version); }
  });
})();
