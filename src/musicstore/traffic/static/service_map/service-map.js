// The service map drawn from /service-map.json as plain SVG: on the map's own page (#service-map), and in the
// "Service map" tab of Locust's UI, whose panel Locust leaves empty for us (the tab is one of its extended tabs).
// Nothing is fetched from anywhere but this server; the map is asked for again every few seconds.
(() => {
  "use strict";

  const NS = "http://www.w3.org/2000/svg";
  const script = document.currentScript;
  const SOURCE = script.dataset.source;
  const PAGE = script.dataset.page;
  const REFRESH_MS = 1000 * Number(script.dataset.refresh || 3);
  const TAB = "service-map";
  const WIDTH = 1000;
  const HEIGHT = 560;
  const RADIUS = 44;
  // Callers on the left, the services in the middle in the order a checkout calls them (cart, orders, store),
  // each database to the right of the service that owns it: the call matrix's edges never cross a node.
  const PLACES = {
    browser: [110, 90], traffic: [110, 280], other: [110, 470],
    cart: [450, 90], orders: [630, 280], store: [450, 470],
    "cart-db": [890, 90], "orders-db": [890, 280], postgres: [890, 470],
  };
  const NAMES = { postgres: "PostgreSQL", "cart-db": "cart.db", "orders-db": "orders.db" };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, cls) {
    const node = el("text", { x, y, class: cls, "text-anchor": "middle" }, parent);
    node.textContent = content;
    return node;
  }

  function place(id, extras) {
    if (PLACES[id]) return PLACES[id];
    const index = extras.indexOf(id) >= 0 ? extras.indexOf(id) : extras.push(id) - 1;
    return [300 + 180 * (index % 3), 540 - 40 * Math.floor(index / 3)];  // a label outside the known ones
  }

  function toward(from, to, distance) {
    const dx = to[0] - from[0];
    const dy = to[1] - from[1];
    const length = Math.hypot(dx, dy) || 1;
    return [from[0] + (dx / length) * distance, from[1] + (dy / length) * distance];
  }

  function passesNear(a, b, points) {
    return points.some((p) => {
      if (p === a || p === b) return false;
      const dx = b[0] - a[0];
      const dy = b[1] - a[1];
      const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy || 1)));
      return Math.hypot(a[0] + t * dx - p[0], a[1] + t * dy - p[1]) < RADIUS + 14;
    });
  }

  // A curve from a to b bending to its left: an edge and its reverse never overlap, and an edge bends widely
  // around a node that lies on its straight line.
  function curve(a, b, points) {
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    const bend = passesNear(a, b, points) ? 130 : 26;
    const control = [
      (a[0] + b[0]) / 2 + (-(b[1] - a[1]) / length) * bend,
      (a[1] + b[1]) / 2 + ((b[0] - a[0]) / length) * bend,
    ];
    const start = toward(a, control, RADIUS);
    const end = toward(b, control, RADIUS + 4);
    const middle = [0, 1].map((i) => 0.25 * start[i] + 0.5 * control[i] + 0.25 * end[i]);
    return { d: `M${start.join(",")} Q${control.join(",")} ${end.join(",")}`, middle };
  }

  function rate(value) {
    return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}/s`;
  }

  function percent(ratio) {
    return `${(100 * ratio).toFixed(ratio > 0 && ratio < 0.01 ? 2 : ratio < 0.1 ? 1 : 0)}%`;
  }

  function latency(ms) {
    return ms === null || ms === undefined ? "p95 –" : `p95 ${ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  }

  function defs(svg) {
    const defs = el("defs", {}, svg);
    for (const [id, cls] of [["sm-arrow", "sm-arrowhead"], ["sm-arrow-undeclared", "sm-arrowhead undeclared"]]) {
      const marker = el("marker", {
        id, viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto",
      }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", class: cls }, marker);
    }
  }

  // Where a label of this size goes near `at` without covering another label or a node: the nearest free spot
  // of a small grid around it (or `at` itself when none is free).
  function freeSpot(at, width, height, taken, points) {
    const overlaps = ([x, y]) =>
      taken.some((r) => Math.abs(r.x - x) < (r.width + width) / 2 + 4 && Math.abs(r.y - y) < (r.height + height) / 2 + 3) ||
      points.some((p) => Math.abs(p[0] - x) < width / 2 + RADIUS && Math.abs(p[1] - y) < height / 2 + RADIUS) ||
      x - width / 2 < 0 || x + width / 2 > WIDTH || y - height / 2 < 0 || y + height / 2 > HEIGHT;
    const spots = [];
    for (let i = -4; i <= 4; i += 1) {
      for (let j = -2; j <= 2; j += 1) spots.push([at[0] + j * (width / 2 + 8), at[1] + i * (height / 2 + 6)]);
    }
    spots.sort((p, q) => Math.hypot(p[0] - at[0], p[1] - at[1]) - Math.hypot(q[0] - at[0], q[1] - at[1]));
    const spot = spots.find((candidate) => !overlaps(candidate)) || at;
    taken.push({ x: spot[0], y: spot[1], width, height });
    return spot;
  }

  function drawEdge(layer, labels, edge, a, b, points, taken) {
    const kind = edge.declared ? "declared" : "undeclared";
    const group = el("g", {
      class: `sm-edge ${kind}`, "data-edge": `${edge.from}>${edge.to}`, "data-from": edge.from,
      "data-to": edge.to, "data-declared": edge.declared,
    }, layer);
    const shape = curve(a, b, points);
    el("path", {
      d: shape.d, class: "sm-line", "marker-end": `url(#${edge.declared ? "sm-arrow" : "sm-arrow-undeclared"})`,
    }, group);
    const lines = [`${rate(edge.rate)} · ${edge.requests} req`, `${percent(edge.error_ratio)} err · ${latency(edge.p95_ms)}`];
    if (!edge.declared) lines.push("not in the call matrix");
    const label = el("g", { class: `sm-label ${kind}`, "data-label": `${edge.from}>${edge.to}` }, labels);
    const width = 8 + 6.4 * Math.max(...lines.map((line) => line.length));
    const height = 6 + 14 * lines.length;
    const [x, y] = freeSpot(shape.middle, width, height, taken, points);
    el("rect", { x: x - width / 2, y: y - height / 2, width, height, rx: 4 }, label);
    lines.forEach((line, i) => text(label, x, y - height / 2 + 15 + 14 * i, line));
    const title = el("title", {}, group);
    title.textContent = `${edge.from} → ${edge.to} (${kind}): ${lines.join(", ")}`;
  }

  function drawNode(layer, node, at) {
    const group = el("g", {
      class: `sm-node ${node.up ? "up" : "down"}`, "data-node": node.id, "data-up": node.up,
    }, layer);
    el("circle", { cx: at[0], cy: at[1], r: RADIUS }, group);
    const name = NAMES[node.id] || node.id;
    text(group, at[0], at[1] + (node.up ? 5 : -2), name, name.length > 7 ? "sm-name sm-long" : "sm-name");
    if (!node.up) text(group, at[0], at[1] + 15, "down", "sm-down");
  }

  function draw(view, map) {
    const svg = view.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    defs(svg);
    const extras = [];
    const at = {};
    for (const node of map.nodes) at[node.id] = place(node.id, extras);
    for (const edge of map.edges) for (const id of [edge.from, edge.to]) at[id] = at[id] || place(id, extras);
    const points = Object.values(at);
    const edges = el("g", { class: "sm-edges" }, svg);
    const nodes = el("g", { class: "sm-nodes" }, svg);
    const labels = el("g", { class: "sm-labels" }, svg);
    const taken = [];
    for (const edge of map.edges) drawEdge(edges, labels, edge, at[edge.from], at[edge.to], points, taken);
    for (const node of map.nodes) drawNode(nodes, node, at[node.id]);
    const undeclared = map.edges.filter((edge) => !edge.declared).length;
    const down = map.nodes.filter((node) => !node.up).map((node) => node.id);
    view.status.textContent = [
      `Updated ${new Date().toLocaleTimeString()}`,
      map.edges.length ? `${map.edges.length} edges, ${undeclared} undeclared` : "no calls seen yet",
      down.length ? `down: ${down.join(", ")}` : "every service up",
    ].join(" · ");
    view.status.classList.toggle("sm-problem", undeclared > 0 || down.length > 0);
  }

  function build(container) {
    container.classList.add("sm-map");
    const status = document.createElement("p");
    status.className = "sm-status";
    status.textContent = "Reading the map…";
    const svg = el("svg", {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": "Service map: who calls whom, live",
      class: "sm-svg",
    });
    const legend = document.createElement("p");
    legend.className = "sm-legend";
    for (const [cls, words] of [["declared", "declared in the call matrix"], ["undeclared", "undeclared: not in the call matrix"]]) {
      const item = document.createElement("span");
      item.className = `sm-key ${cls}`;
      item.textContent = words;
      legend.appendChild(item);
    }
    container.append(status, svg, legend);
    return { container, svg, status };
  }

  async function refresh(view) {
    try {
      const response = await fetch(SOURCE, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`the map answered ${response.status}`);
      draw(view, await response.json());
    } catch (error) {
      view.status.textContent = `Could not read the map (${error.message}); trying again.`;
      view.status.classList.add("sm-problem");
    }
  }

  // In Locust's UI: a link to the map's page in the header (Locust shows its tabs only once a run started), and
  // the map in the panel under the tabs while the "Service map" tab is the one chosen.
  function headerLink() {
    const toolbar = document.querySelector("header .MuiToolbar-root") || document.querySelector("header");
    if (!toolbar || document.getElementById("service-map-link")) return;
    const link = document.createElement("a");
    link.id = "service-map-link";
    link.href = PAGE;
    link.textContent = "Service map";
    toolbar.appendChild(link);
  }

  function tabPanel() {
    const tabs = document.querySelector('[role="tablist"]');
    const bar = tabs && (tabs.closest(".MuiTabs-root") || tabs).parentElement;
    if (!bar) return null;
    let panel = document.getElementById("service-map-tab");
    if (!panel) {
      panel = document.createElement("section");
      panel.id = "service-map-tab";
      panel.view = build(panel);
    }
    // Under the tab bar, among the tabs' panels (another extension's panel may sit there too: no reordering).
    if (panel.parentElement !== bar.parentElement) bar.after(panel);
    return panel;
  }

  const own = document.getElementById("service-map");
  let view = own ? build(own) : null;
  let due = 0;

  function tick() {
    if (!own) {
      headerLink();
      const chosen = new URLSearchParams(window.location.search).get("tab") === TAB;
      const panel = chosen ? tabPanel() : document.getElementById("service-map-tab");
      if (panel) panel.hidden = !chosen;
      if (!chosen || !panel) {
        due = 0;  // drawn afresh as soon as the tab is chosen again
        return;
      }
      view = panel.view;
    }
    if (Date.now() >= due) {
      due = Date.now() + REFRESH_MS;
      refresh(view);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", tick);
  else tick();
  window.setInterval(tick, 250);
})();
