/* chainsleuth pages: CSRF header for htmx, error swaps, sortable tables. No inline script anywhere (CSP). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the session's CSRF token in a header (forms also carry it as a hidden field).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // Show the server's explanation for refused or invalid requests instead of silently ignoring them.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 403 || status === 404 || status === 409 || status === 422 || status === 429) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function cellValue(row, index) {
    var cell = row.children[index];
    if (!cell) { return ""; }
    var key = cell.getAttribute("data-sort");
    return key !== null ? key : cell.textContent.trim();
  }

  var NUMBER = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i;

  function compare(a, b) {
    if (NUMBER.test(a) && NUMBER.test(b)) { return parseFloat(a) - parseFloat(b); }
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }

  function makeSortable(table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort-button";
      button.textContent = th.textContent;
      button.setAttribute("title", "Sort by " + th.textContent.trim());
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.children.length > 1; });
        rows.sort(function (r1, r2) {
          var result = compare(cellValue(r1, index), cellValue(r2, index));
          return ascending ? result : -result;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function init(root) {
    root.querySelectorAll("table.sortable:not([data-sortable-ready])").forEach(function (table) {
      table.setAttribute("data-sortable-ready", "1");
      makeSortable(table);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target); });
})();
