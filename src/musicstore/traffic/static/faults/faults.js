// The fault switches, from GET /faults, switched with PUT /faults/<flag> {"value": ...}: on their own page
// (#faults), and in the "Faults" tab of Locust's UI, whose panel Locust leaves empty for us (one of its extended
// tabs). Read-only where the flags come from a Kubernetes ConfigMap. Nothing is fetched from anywhere but here.
(() => {
  "use strict";

  const script = document.currentScript;
  const SOURCE = script.dataset.source;
  const PAGE = script.dataset.page;
  const REFRESH_MS = 1000 * Number(script.dataset.refresh || 3);
  const READ_ONLY = script.dataset.readOnly === "true";
  const REASON = script.dataset.reason || "";
  const DEFINITIONS = JSON.parse(script.dataset.definitions || "[]");
  const TAB = "faults";

  function element(name, attrs, parent, content) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (content !== undefined) node.textContent = content;
    if (parent) parent.appendChild(node);
    return node;
  }

  function shown(flag, value) {
    if (flag.kind === "boolean") return value ? "on" : "off";
    if (!value) return "off";
    return flag.high <= 1 ? `${Math.round(value * 1000) / 10}%` : `${value} ms`;
  }

  function build(container) {
    container.classList.add("faults");
    if (READ_ONLY) element("p", { class: "faults-notice", id: "faults-read-only" }, container, `Read-only: ${REASON}`);
    const status = element("p", { class: "faults-status", role: "status" }, container, "Reading the flags…");
    const table = element("table", { class: "faults-table" }, container);
    const head = element("tr", {}, element("thead", {}, table));
    for (const title of ["Flag", "What it does when on", "Now", "Switch"]) element("th", {}, head, title);
    const body = element("tbody", {}, table);
    const rows = {};
    for (const flag of DEFINITIONS) {
      const row = element("tr", { "data-flag": flag.name }, body);
      element("code", {}, element("td", {}, row), flag.name);
      element("td", {}, row, flag.description);
      const value = element("td", { class: "fault-value", "data-value": "" }, row, "…");
      const controls = element("td", {}, row);
      const buttons = flag.variants.map(([variant, to]) => {  // [name, value] pairs, in the flag's order
        const button = element("button", { type: "button", "data-variant": variant }, controls, variant);
        button.value = JSON.stringify(to);
        button.addEventListener("click", () => put(view, flag, to));
        return button;
      });
      let input = null;
      if (flag.kind === "number") {
        input = element("input", {
          type: "number", min: 0, max: flag.high, step: flag.high <= 1 ? 0.05 : 100,
          "aria-label": `${flag.name} value`, "data-input": flag.name,
        }, controls);
        const set = element("button", { type: "button", "data-set": flag.name }, controls, "Set");
        set.addEventListener("click", () => put(view, flag, Number(input.value)));
        input.addEventListener("keydown", (event) => { if (event.key === "Enter") set.click(); });
        if (READ_ONLY) { input.disabled = true; set.disabled = true; }
      }
      if (READ_ONLY) for (const button of buttons) button.disabled = true;
      rows[flag.name] = { row, value, buttons, input, flag };
    }
    const view = { container, status, rows, busy: false };
    return view;
  }

  function draw(view, values) {
    for (const [name, parts] of Object.entries(view.rows)) {
      const value = values[name];
      parts.value.textContent = shown(parts.flag, value);
      parts.value.dataset.value = JSON.stringify(value);
      parts.row.classList.toggle("fault-on", Boolean(value));
      for (const button of parts.buttons) button.classList.toggle("chosen", JSON.parse(button.value) === value);
      if (parts.input && document.activeElement !== parts.input) parts.input.value = String(value);
    }
  }

  function say(view, text, problem) {
    view.status.textContent = text;
    view.status.classList.toggle("error", Boolean(problem));
  }

  async function refresh(view) {
    if (view.busy) return;
    try {
      const response = await fetch(SOURCE, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`the flags answered ${response.status}`);
      draw(view, await response.json());
      if (view.status.dataset.kept !== "true") say(view, READ_ONLY ? "Shown read-only." : "Choose a switch to inject a fault.");
    } catch (error) {
      say(view, `Could not read the flags (${error.message}); trying again.`, true);
    }
  }

  async function put(view, flag, value) {
    view.busy = true;
    try {
      const response = await fetch(`${SOURCE}/${encodeURIComponent(flag.name)}`, {
        method: "PUT", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ value }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || `the switch answered ${response.status}`);
      draw(view, body);
      say(view, `${flag.name} is now ${shown(flag, body[flag.name])}: the services follow within a few seconds.`);
      view.status.dataset.kept = "true";
    } catch (error) {
      say(view, `${flag.name} was not switched: ${error.message}`, true);
      view.status.dataset.kept = "true";
    } finally {
      view.busy = false;
    }
  }

  // In Locust's UI: a link to the switches' page in the header (Locust shows its tabs only once a run started),
  // and the switches in the panel under the tabs while the "Faults" tab is the one chosen.
  function headerLink() {
    const toolbar = document.querySelector("header .MuiToolbar-root") || document.querySelector("header");
    if (!toolbar || document.getElementById("faults-link")) return;
    element("a", { id: "faults-link", href: PAGE }, toolbar, "Faults");
  }

  function tabPanel() {
    const tabs = document.querySelector('[role="tablist"]');
    const bar = tabs && (tabs.closest(".MuiTabs-root") || tabs).parentElement;
    if (!bar) return null;
    let panel = document.getElementById("faults-tab");
    if (!panel) {
      panel = element("section", { id: "faults-tab" });
      panel.view = build(panel);
    }
    if (bar.nextElementSibling !== panel) bar.after(panel);
    return panel;
  }

  const own = document.getElementById("faults");
  let view = own ? build(own) : null;
  let due = 0;

  function tick() {
    if (!own) {
      headerLink();
      const chosen = new URLSearchParams(window.location.search).get("tab") === TAB;
      const panel = chosen ? tabPanel() : document.getElementById("faults-tab");
      if (panel) panel.hidden = !chosen;
      if (!chosen || !panel) {
        due = 0;
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
