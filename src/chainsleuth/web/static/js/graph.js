/* The address graph: Cytoscape.js over /chain/{chain}/address/{address}/neighbours.json.
   Select a node, expand its neighbours, open its page, export the graph as PNG or JSON. The case workspace's
   graph (casegraph.js) follows the same conventions and adds trace, pin, annotate and save with the case. */
(function () {
  "use strict";

  var container = document.getElementById("graph");
  if (!container || typeof window.cytoscape !== "function") { return; }
  var chain = container.getAttribute("data-chain");
  var status = document.getElementById("graph-status");
  var detail = document.getElementById("graph-detail");
  var expandButton = document.getElementById("graph-expand");
  var openButton = document.getElementById("graph-open");
  var expanded = {};
  var LABEL_LIMIT = 40;

  function addressUrl(address) {
    return "/chain/" + encodeURIComponent(chain) + "/address/" + encodeURIComponent(address);
  }

  function day(seconds) {
    return seconds ? new Date(seconds * 1000).toISOString().slice(0, 10) : "";
  }

  function amount(value) {
    if (value >= 1000) { return value.toLocaleString("en", { maximumFractionDigits: 0 }); }
    return value.toLocaleString("en", { maximumFractionDigits: 4 });
  }

  function decorate(elements) {
    elements.nodes.forEach(function (node) {
      var d = node.data;
      d.display = d.label + (d.badge ? "\n[" + d.badge.replace(/_/g, " ") + "]" : "") + (d.customer ? "\n(our customer)" : "");
      d.kind = d.center ? "center" : (d.illicit ? "illicit" : (d.customer ? "ours" : (d.badge ? "tagged" : "plain")));
    });
    elements.edges.forEach(function (edge) {
      var d = edge.data;
      d.display = amount(d.amount) + " " + d.asset + (d.count > 1 ? " ×" + d.count : "") + "\n" + day(d.last);
    });
    return elements.nodes.concat(elements.edges);
  }

  var cy = window.cytoscape({
    container: container,
    elements: [],
    wheelSensitivity: 0.2,
    style: [
      { selector: "node", style: {
        "label": "data(display)", "text-wrap": "wrap", "font-size": 10, "text-valign": "bottom", "text-margin-y": 4,
        "background-color": "#7d8a99", "width": 22, "height": 22, "color": "#1d2733",
        "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 2 } },
      { selector: "node[kind = 'center']", style: { "background-color": "#1f4e79", "width": 34, "height": 34, "font-weight": "bold" } },
      { selector: "node[kind = 'illicit']", style: { "background-color": "#b3261e", "shape": "diamond", "width": 28, "height": 28 } },
      { selector: "node[kind = 'tagged']", style: { "background-color": "#6a4c93", "shape": "hexagon" } },
      { selector: "node[kind = 'ours']", style: { "background-color": "#2e7d32", "shape": "round-rectangle" } },
      { selector: "node:selected", style: { "border-width": 4, "border-color": "#f2a900" } },
      { selector: "edge", style: {
        "label": "", "text-wrap": "wrap", "font-size": 8, "width": 1.5, "line-color": "#9aa7b5",
        "target-arrow-color": "#9aa7b5", "target-arrow-shape": "triangle", "curve-style": "bezier",
        "text-rotation": "autorotate", "color": "#3b4754", "min-zoomed-font-size": 7,
        "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 1 } },
      { selector: "edge.labelled, edge:selected", style: { "label": "data(display)" } },
      { selector: "edge:selected", style: { "line-color": "#f2a900", "target-arrow-color": "#f2a900", "width": 3 } }
    ]
  });
  window.chainsleuthGraph = cy;  // for the tests

  // Rings by distance from the page's address: the address in the middle, its counterparties around it, the
  // counterparties of expanded nodes further out. Deterministic and readable at the sizes a person expands to.
  function relayout() {
    var depth = {};
    var root = cy.nodes("[?center]").first();
    if (root.empty()) { return; }
    cy.elements().breadthFirstSearch({
      root: root, directed: false,
      visit: function (node, edge, previous, index, level) { depth[node.id()] = level; }
    });
    var deepest = 0;
    Object.keys(depth).forEach(function (id) { deepest = Math.max(deepest, depth[id]); });
    cy.layout({
      name: "concentric", animate: false, padding: 30, minNodeSpacing: 60, spacingFactor: 1.5, startAngle: 3 / 2 * Math.PI,
      concentric: function (node) { return deepest + 1 - (depth[node.id()] || 0); },
      levelWidth: function () { return 1; }
    }).run();
  }

  function load(url, address) {
    status.textContent = "Loading neighbours of " + address + "…";
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("the server answered " + response.status); }
        return response.json();
      })
      .then(function (graph) {
        var added = 0;
        decorate(graph).forEach(function (element) {
          if (cy.getElementById(element.data.id).empty()) { cy.add(element); added += 1; }
        });
        expanded[address] = true;
        // Amounts and dates on every edge while that stays legible; beyond, on the selected edge only.
        cy.edges().toggleClass("labelled", cy.edges().length <= LABEL_LIMIT);
        relayout();
        status.textContent = cy.nodes().length + " addresses, " + cy.edges().length + " edges. " +
          "Expanded " + address.slice(0, 12) + "…: " + graph.counterparties + " counterparties" +
          (graph.truncated ? " (" + graph.truncated + " less active ones left out)" : "") + ", " + added + " new elements.";
        container.setAttribute("data-expanded", Object.keys(expanded).length);
      })
      .catch(function (error) { status.textContent = "Could not load the graph: " + error.message; });
  }

  function selected() { return cy.nodes(":selected").first(); }

  function expand(node) {
    if (!node || node.empty()) { return; }
    var address = node.id();
    if (expanded[address]) { status.textContent = address.slice(0, 12) + "… is already expanded."; return; }
    load(addressUrl(address) + "/neighbours.json", address);
  }

  function show(element) {
    var d = element.data();
    var lines = [];
    if (element.isNode()) {
      lines.push("Address " + d.id);
      d.tags.forEach(function (t) { lines.push("Tag: " + t.label + " (" + (t.category || "no category") + ", " + t.confidence + ")"); });
      if (d.customer) { lines.push("Deposit address of our customer " + d.customer); }
    } else {
      lines.push(d.source + " → " + d.target);
      lines.push(amount(d.amount) + " " + d.asset + " in " + d.count + " transfers, " + day(d.first) + " to " + day(d.last));
      if (d.txs.length) { lines.push("Transactions: " + d.txs.join(", ")); }
    }
    detail.textContent = lines.join("\n");
  }

  cy.on("select", "node", function (event) {
    expandButton.disabled = false; openButton.disabled = false; show(event.target);
  });
  cy.on("select", "edge", function (event) { show(event.target); });
  cy.on("unselect", "node", function () {
    if (selected().empty()) { expandButton.disabled = true; openButton.disabled = true; }
  });
  cy.on("dbltap", "node", function (event) { expand(event.target); });
  expandButton.addEventListener("click", function () { expand(selected()); });
  openButton.addEventListener("click", function () {
    var node = selected(); if (!node.empty()) { window.location.href = addressUrl(node.id()); }
  });
  document.getElementById("graph-fit").addEventListener("click", function () { cy.fit(undefined, 30); });

  function download(name, href) {
    var link = document.createElement("a");
    link.href = href; link.download = name; document.body.appendChild(link); link.click(); link.remove();
  }
  var stem = "graph-" + chain + "-" + container.getAttribute("data-center").slice(0, 16);
  document.getElementById("graph-png").addEventListener("click", function () {
    download(stem + ".png", cy.png({ full: true, scale: 2, bg: "#ffffff" }));
  });
  document.getElementById("graph-json").addEventListener("click", function () {
    var payload = { chain: chain, center: container.getAttribute("data-center"), exported_at: new Date().toISOString(),
                    elements: cy.elements().jsons() };
    var blob = new Blob([JSON.stringify(payload, null, 2)], { type: "application/json" });
    download(stem + ".json", URL.createObjectURL(blob));
  });

  load(container.getAttribute("data-url"), container.getAttribute("data-center"));
})();
