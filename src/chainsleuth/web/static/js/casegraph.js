/* The case workspace's fund-flow graph (Cytoscape.js), built on the address graph's conventions (graph.js):
   same node kinds and edge labels, the same neighbours.json to expand a node. Adds what an investigation needs:
   trace forward or backward from a node under a policy (terminals highlighted with amount and share), save the
   trace as evidence, pin and annotate nodes, a time filter, and save the graph with the case (as evidence).
   Every request carries the CSRF header; the case version travels with each save (a stale one answers 409). */
(function () {
  "use strict";

  var container = document.getElementById("case-graph");
  if (!container || typeof window.cytoscape !== "function") { return; }
  var caseId = container.getAttribute("data-case");
  var status = document.getElementById("graph-status");
  var detail = document.getElementById("graph-detail");
  var traceBox = document.getElementById("trace-result");
  var csrf = (document.querySelector("meta[name='csrf-token']") || {}).content || "";
  var expanded = {};
  var annotations = {};
  var lastTrace = null;
  var LABEL_LIMIT = 60;

  function byId(id) { return document.getElementById(id); }
  function day(seconds) { return seconds ? new Date(seconds * 1000).toISOString().slice(0, 10) : ""; }
  function amount(value) {
    if (value >= 1000) { return value.toLocaleString("en", { maximumFractionDigits: 0 }); }
    return value.toLocaleString("en", { maximumFractionDigits: 4 });
  }
  function percent(share) { return (share * 100).toLocaleString("en", { maximumFractionDigits: 2 }) + " %"; }
  function version() { return parseInt(container.getAttribute("data-version"), 10); }
  function setVersion(value) {
    container.setAttribute("data-version", String(value));
    Array.prototype.forEach.call(document.querySelectorAll("input.case-version"), function (input) { input.value = value; });
  }
  function addressUrl(chain, address) {
    return "/chain/" + encodeURIComponent(chain) + "/address/" + encodeURIComponent(address);
  }

  function label(d) {
    var text = d.label + (d.badge ? "\n[" + String(d.badge).replace(/_/g, " ") + "]" : "") +
      (d.exposure ? "\n⚠ " + d.exposure : "") +
      (d.customer ? "\n(our customer " + String(d.customer).replace(/^our customer /, "") + ")" : "");
    if (d.terminal) { text += "\n#" + d.terminal_rank + " " + percent(d.terminal_share) + " · " + amount(d.terminal_amount) + " " + d.terminal_asset; }
    if (annotations[d.id]) { text += "\n✎ " + annotations[d.id]; }
    return text;
  }
  function kind(d) {
    if (d.terminal) { return "terminal"; }
    if (d.center || d.trace_origin) { return "center"; }
    return d.illicit ? "illicit" : (d.customer ? "ours" : (d.badge ? "tagged" : "plain"));
  }
  function refresh(node) { node.data("display", label(node.data())); node.data("kind", kind(node.data())); }
  function edgeLabel(d) {
    var text = amount(d.amount) + " " + d.asset + (d.count > 1 ? " ×" + d.count : "") + "\n" + day(d.last);
    if (d.traced) { text = "taint " + amount(d.taint) + " of " + text; }
    return text;
  }

  var cy = window.cytoscape({
    container: container, elements: [], wheelSensitivity: 0.2,
    style: [
      { selector: "node", style: {
        "label": "data(display)", "text-wrap": "wrap", "font-size": 10, "text-valign": "bottom", "text-margin-y": 4,
        "background-color": "#7d8a99", "width": 22, "height": 22, "color": "#1d2733",
        "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 2 } },
      { selector: "node[kind = 'center']", style: { "background-color": "#1f4e79", "width": 34, "height": 34, "font-weight": "bold" } },
      { selector: "node[kind = 'illicit']", style: { "background-color": "#b3261e", "shape": "diamond", "width": 28, "height": 28 } },
      { selector: "node[kind = 'tagged']", style: { "background-color": "#6a4c93", "shape": "hexagon" } },
      { selector: "node[kind = 'ours']", style: { "background-color": "#2e7d32", "shape": "round-rectangle" } },
      { selector: "node[kind = 'terminal']", style: { "background-color": "#f2a900", "shape": "star", "width": 40, "height": 40,
        "border-width": 3, "border-color": "#b3261e", "font-weight": "bold", "color": "#7c1b15" } },
      { selector: "node.pinned", style: { "border-width": 3, "border-color": "#1d2733", "border-style": "double" } },
      { selector: "node:selected", style: { "border-width": 4, "border-color": "#f2a900" } },
      { selector: "edge", style: {
        "label": "", "text-wrap": "wrap", "font-size": 8, "width": 1.5, "line-color": "#9aa7b5",
        "target-arrow-color": "#9aa7b5", "target-arrow-shape": "triangle", "curve-style": "bezier",
        "text-rotation": "autorotate", "color": "#3b4754", "min-zoomed-font-size": 6,
        "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 1 } },
      { selector: "edge[?traced]", style: { "line-color": "#d9480f", "target-arrow-color": "#d9480f", "width": 3.5 } },
      { selector: "edge.labelled, edge:selected", style: { "label": "data(display)" } },
      { selector: "edge:selected", style: { "line-color": "#f2a900", "target-arrow-color": "#f2a900", "width": 4 } },
      { selector: ".filtered", style: { "display": "none" } }
    ]
  });
  window.chainsleuthGraph = cy;

  function add(elements) {
    var added = 0;
    elements.forEach(function (element) {
      var d = element.data;
      var existing = cy.getElementById(d.id);
      if (existing.empty()) {
        if (d.source && (cy.getElementById(d.source).empty() || cy.getElementById(d.target).empty())) { return; }
        element.group = d.source ? "edges" : "nodes";
        existing = cy.add(element); added += 1;
      } else {
        Object.keys(d).forEach(function (key) { if (d[key] !== null && d[key] !== undefined && d[key] !== "") { existing.data(key, d[key]); } });
      }
      if (existing.isNode()) { refresh(existing); } else { existing.data("display", edgeLabel(existing.data())); }
    });
    cy.edges().toggleClass("labelled", cy.edges().length <= LABEL_LIMIT);
    return added;
  }

  function layout() {
    var free = cy.nodes().filter(function (n) { return !n.hasClass("pinned"); });
    if (free.empty()) { return; }
    cy.layout({ name: "breadthfirst", directed: true, animate: false, padding: 40, spacingFactor: 1.6,
                roots: cy.nodes("[?center], [?trace_origin]"), avoidOverlap: true }).run();
    cy.nodes(".pinned").forEach(function (n) { if (n.data("pinned_at")) { n.position(n.data("pinned_at")); } });
  }

  // An expansion puts the new neighbours on a ring around the expanded node and leaves everything else where
  // the investigator had it: a hub's 25 counterparties in one breadth-first row had unreadable labels.
  function ring(centre, fresh) {
    if (fresh.empty()) { return; }
    var at = centre.position();
    var radius = Math.max(140, fresh.length * 16);
    fresh.layout({ name: "circle", animate: false, avoidOverlap: true, startAngle: 3 / 2 * Math.PI,
                   boundingBox: { x1: at.x - radius, y1: at.y - radius, w: 2 * radius, h: 2 * radius } }).run();
    cy.fit(undefined, 30);
  }

  // After a save the server has a new evidence row and timeline entry: re-read the case page and swap those two
  // lists in, so the panels never lag behind what was just stored.
  function refreshPanels() {
    fetch("/cases/" + caseId, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["evidence-table", "timeline-list"].forEach(function (id) {
          var mine = byId(id); var theirs = fresh.getElementById(id);
          if (mine && theirs) { mine.innerHTML = theirs.innerHTML; }
        });
        container.setAttribute("data-panels-refreshed", String(Date.now()));
      }).catch(function () { /* the next page load shows them */ });
  }

  function request(method, url, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json", "X-CSRF-Token": csrf } };
    if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (payload) {
        if (!response.ok) {
          var message = (payload.error && payload.error.message) || payload.message || payload.detail || ("the server answered " + response.status);
          if (response.status === 409) { message = "Someone else changed this case — reload the page (" + message + ")"; }
          throw new Error(typeof message === "string" ? message : JSON.stringify(message));
        }
        return payload;
      });
    });
  }

  function selected() { return cy.nodes(":selected").first(); }
  function buttons() {
    var none = selected().empty();
    ["graph-expand", "graph-open", "graph-exposure", "graph-pin", "graph-annotate", "trace-run"].forEach(function (id) { if (byId(id)) { byId(id).disabled = none; } });
  }

  function expand(node) {
    if (!node || node.empty()) { return; }
    var address = node.id(); var chain = node.data("chain") || "bitcoin";
    if (expanded[address]) { status.textContent = address.slice(0, 12) + "… is already expanded."; return; }
    status.textContent = "Loading neighbours of " + address + "…";
    var before = {}; cy.nodes().forEach(function (n) { before[n.id()] = true; });
    request("GET", addressUrl(chain, address) + "/neighbours.json").then(function (graph) {
      var added = add(graph.nodes.map(function (n) { n.data.center = false; return n; }).concat(graph.edges));
      expanded[address] = true;
      ring(node, cy.nodes().filter(function (n) { return !before[n.id()]; }));
      status.textContent = "Expanded " + address.slice(0, 12) + "…: " + added + " new elements; " + cy.nodes().length + " addresses in all.";
      container.setAttribute("data-expanded", Object.keys(expanded).length);
    }).catch(function (error) { status.textContent = "Could not expand: " + error.message; });
  }

  function traceParams() {
    var node = selected();
    return { chain: node.data("chain") || "bitcoin", target: node.id(), direction: byId("trace-direction").value,
             policy: byId("trace-policy").value, hops: parseInt(byId("trace-hops").value, 10) || 6 };
  }

  function showTrace(result) {
    var s = result.summary;
    traceBox.textContent = "";
    var head = document.createElement("p");
    head.id = "trace-summary";
    head.textContent = s.policy + " trace " + s.direction + " from " + s.source.slice(0, 16) + "…, " + s.hops + " hops: " +
      amount(s.traced_value) + " " + s.traced_asset + " traced, " + s.terminal_count + " terminals.";
    traceBox.appendChild(head);
    var table = document.createElement("table"); table.className = "data compact"; table.id = "trace-terminals";
    table.innerHTML = "<thead><tr><th scope='col'>#</th><th scope='col'>Terminal</th><th scope='col' class='num'>Amount</th>" +
      "<th scope='col' class='num'>Share</th><th scope='col'>Why it ends</th><th scope='col'></th></tr></thead>";
    var body = document.createElement("tbody");
    result.terminals.forEach(function (t, i) {
      var row = document.createElement("tr");
      [String(i + 1), t.label + (t.address ? " · " + t.address.slice(0, 14) + "…" : ""), amount(t.amount) + " " + t.asset,
       percent(t.share), t.reason + (t.source ? " (" + t.source + ", " + t.confidence + ")" : "")].forEach(function (text, col) {
        var cell = document.createElement("td"); cell.textContent = text; if (col === 2 || col === 3) { cell.className = "num"; } row.appendChild(cell);
      });
      var action = document.createElement("td");
      if (t.confidence === "ownership" && byId("link-form")) {
        var form = document.createElement("form"); form.method = "post"; form.action = "/cases/" + caseId + "/links"; form.className = "inline";
        [["csrf_token", csrf], ["version", String(version())], ["link_type", "account"], ["target", t.entity]].forEach(function (pair) {
          var input = document.createElement("input"); input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
          if (pair[0] === "version") { input.className = "case-version"; } form.appendChild(input);
        });
        var button = document.createElement("button"); button.type = "submit"; button.className = "link-account";
        button.textContent = "Link account " + t.entity + " to the case"; form.appendChild(button); action.appendChild(form);
      }
      row.appendChild(action); body.appendChild(row);
    });
    table.appendChild(body); traceBox.appendChild(table);
  }

  function runTrace() {
    var node = selected(); if (node.empty()) { return; }
    var params = traceParams();
    status.textContent = "Tracing " + params.direction + " under " + params.policy + "…";
    request("POST", "/cases/" + caseId + "/trace.json", params).then(function (result) {
      cy.nodes().forEach(function (n) { n.removeData("terminal"); refresh(n); });
      var added = add(result.nodes.concat(result.edges)); layout(); cy.fit(undefined, 30);
      lastTrace = params; if (byId("trace-save")) { byId("trace-save").disabled = false; }
      showTrace(result);
      status.textContent = "Trace drawn: " + result.terminals.length + " terminals highlighted, " + added + " new elements.";
      container.setAttribute("data-traced", String(result.terminals.length));
    }).catch(function (error) { status.textContent = "The trace failed: " + error.message; });
  }

  function saveTrace() {
    if (!lastTrace) { return; }
    var body = Object.assign({ version: version() }, lastTrace);
    request("POST", "/cases/" + caseId + "/trace-evidence.json", body).then(function (saved) {
      setVersion(saved.version);
      status.textContent = "Trace saved as evidence #" + saved.evidence_id + " (SHA-256 " + saved.sha256.slice(0, 16) + "…).";
      container.setAttribute("data-trace-saved", String(saved.evidence_id));
      refreshPanels();
    }).catch(function (error) { status.textContent = "Not saved: " + error.message; });
  }

  function exposure() {
    var node = selected(); if (node.empty()) { return; }
    var url = "/cases/" + caseId + "/exposure.json?chain=" + encodeURIComponent(node.data("chain") || "bitcoin") +
      "&address=" + encodeURIComponent(node.id());
    status.textContent = "Computing the exposure of " + node.id().slice(0, 12) + "…";
    request("GET", url).then(function (result) {
      var top = result.categories.filter(function (c) { return c.share >= 0.005; });
      node.data("exposure", top.length ? top.slice(0, 2).map(function (c) {
        return c.category + " " + percent(c.share) + " " + (c.direction === "incoming" ? "in" : "out");
      }).join(", ") : "no tagged exposure");
      node.data("exposure_detail", result.categories.map(function (c) {
        return c.direction + " " + c.category + ": " + percent(c.share) + (c.evidence.length ? " via " + c.evidence.join(", ") : "");
      }));
      refresh(node); show(node);
      status.textContent = "Exposure within " + result.hops + " hops" + (result.tier ? ", risk tier " + result.tier : "") + ".";
      container.setAttribute("data-exposure", node.id());
    }).catch(function (error) { status.textContent = "Could not compute the exposure: " + error.message; });
  }

  function timeRange() {
    return { from: byId("time-from").value, to: byId("time-to").value };
  }
  function applyTime() {
    var range = timeRange();
    var from = range.from ? Date.parse(range.from + "T00:00:00Z") / 1000 : -Infinity;
    var to = range.to ? Date.parse(range.to + "T23:59:59Z") / 1000 : Infinity;
    cy.edges().forEach(function (e) { e.toggleClass("filtered", (e.data("last") || 0) < from || (e.data("first") || 0) > to); });
    var shown = cy.edges().filter(function (e) { return !e.hasClass("filtered"); }).length;
    status.textContent = shown + " of " + cy.edges().length + " edges in the chosen period.";
  }

  function saveGraph() {
    cy.nodes(".pinned").forEach(function (n) { n.data("pinned_at", n.position()); });
    var body = { version: version(), elements: cy.elements().jsons(), annotations: annotations, time_filter: timeRange() };
    request("POST", "/cases/" + caseId + "/graph-evidence.json", body).then(function (saved) {
      setVersion(saved.version);
      status.textContent = "Graph saved with the case as evidence #" + saved.evidence_id + " (SHA-256 " + saved.sha256.slice(0, 16) + "…).";
      container.setAttribute("data-graph-saved", String(saved.evidence_id));
      refreshPanels();
    }).catch(function (error) { status.textContent = "Not saved: " + error.message; });
  }

  function show(element) {
    var d = element.data(); var lines = [];
    if (element.isNode()) {
      lines.push("Address " + d.id + " (" + (d.chain || "") + ")");
      (d.tags || []).forEach(function (t) { lines.push("Tag: " + t.label + " (" + (t.category || "no category") + ", " + t.confidence + ")"); });
      if (d.customer) { lines.push("Deposit address of " + d.customer); }
      if (d.terminal) { lines.push("Trace terminal #" + d.terminal_rank + ": " + d.terminal_label + ", " + amount(d.terminal_amount) + " " + d.terminal_asset + " (" + percent(d.terminal_share) + ")"); }
      (d.exposure_detail || []).forEach(function (line) { lines.push("Exposure, " + line); });
      if (annotations[d.id]) { lines.push("Note: " + annotations[d.id]); }
      byId("annotation").value = annotations[d.id] || "";
    } else {
      lines.push(d.source + " → " + d.target);
      lines.push(amount(d.amount) + " " + d.asset + " in " + d.count + " transfers, " + day(d.first) + " to " + day(d.last));
      if (d.traced) { lines.push("Tainted: " + amount(d.taint) + " " + d.asset); }
      if (d.txs && d.txs.length) { lines.push("Transactions: " + d.txs.join(", ")); }
    }
    detail.textContent = lines.join("\n");
  }

  function download(name, href) {
    var link = document.createElement("a"); link.href = href; link.download = name; document.body.appendChild(link); link.click(); link.remove();
  }

  cy.on("select", "node", function (event) { buttons(); show(event.target); });
  cy.on("unselect", "node", buttons);
  cy.on("select", "edge", function (event) { show(event.target); });
  cy.on("dbltap", "node", function (event) { expand(event.target); });
  byId("graph-expand").addEventListener("click", function () { expand(selected()); });
  byId("graph-open").addEventListener("click", function () {
    var node = selected(); if (!node.empty()) { window.location.href = addressUrl(node.data("chain") || "bitcoin", node.id()); }
  });
  byId("graph-pin").addEventListener("click", function () {
    var node = selected(); if (node.empty()) { return; }
    node.toggleClass("pinned");
    if (node.hasClass("pinned")) { node.lock(); node.data("pinned", true); } else { node.unlock(); node.data("pinned", false); }
    status.textContent = node.id().slice(0, 12) + "… " + (node.hasClass("pinned") ? "pinned where it is." : "unpinned.");
  });
  byId("graph-annotate").addEventListener("click", function () {
    var node = selected(); if (node.empty()) { return; }
    var text = byId("annotation").value.trim();
    if (text) { annotations[node.id()] = text; } else { delete annotations[node.id()]; }
    node.data("note", text); refresh(node); show(node);
  });
  byId("graph-fit").addEventListener("click", function () { cy.fit(undefined, 30); });
  byId("graph-exposure").addEventListener("click", exposure);
  byId("trace-run").addEventListener("click", runTrace);
  if (byId("trace-save")) { byId("trace-save").addEventListener("click", saveTrace); }
  if (byId("graph-save")) { byId("graph-save").addEventListener("click", saveGraph); }
  byId("time-apply").addEventListener("click", applyTime);
  var stem = "case-" + caseId + "-graph";
  byId("graph-png").addEventListener("click", function () { download(stem + ".png", cy.png({ full: true, scale: 2, bg: "#ffffff" })); });
  byId("graph-json").addEventListener("click", function () {
    var payload = { case: caseId, exported_at: new Date().toISOString(), annotations: annotations, elements: cy.elements().jsons() };
    download(stem + ".json", URL.createObjectURL(new Blob([JSON.stringify(payload, null, 2)], { type: "application/json" })));
  });

  request("GET", "/cases/" + caseId + "/graph.json").then(function (graph) {
    if (graph.saved) {
      annotations = graph.annotations || {};
      cy.add(graph.elements);
      cy.nodes().forEach(function (n) { if (n.data("pinned")) { n.addClass("pinned"); n.lock(); } refresh(n); });
      cy.edges().forEach(function (e) { e.data("display", edgeLabel(e.data())); });
      cy.edges().toggleClass("labelled", cy.edges().length <= LABEL_LIMIT);
      if (graph.time_filter) { byId("time-from").value = graph.time_filter.from || ""; byId("time-to").value = graph.time_filter.to || ""; applyTime(); }
      cy.fit(undefined, 30);
      status.textContent = "The graph saved with the case (evidence #" + graph.evidence_id + "): " + cy.nodes().length + " addresses.";
    } else if (!graph.nodes.length) {
      status.textContent = "Link an address to the case to start its graph.";
    } else {
      add(graph.nodes.concat(graph.edges)); layout();
      status.textContent = cy.nodes().length + " addresses around the case's " + graph.roots.length + " linked address(es). Select one to expand or trace it.";
    }
    container.setAttribute("data-loaded", "1");
  }).catch(function (error) { status.textContent = "Could not load the graph: " + error.message; });
})();
