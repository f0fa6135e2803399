// opsync dashboard: polls GET /api/dashboard and draws it. No library, no network but this
// service: charts are plain SVG built here. State-changing requests (replay) carry the
// X-Requested-With header the admin gate requires of cookie-authenticated requests.
"use strict";

(() => {
  const POLL_MS = 3000;
  const SVG = "http://www.w3.org/2000/svg";
  const CSRF = { "X-Requested-With": "opsync-dashboard" };
  const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#9333ea", "#0891b2", "#e11d48",
    "#65a30d", "#c2410c", "#4f46e5", "#0d9488", "#a21caf", "#78716c"];
  const STATE_COLOURS = { pending: "#f59e0b", in_flight: "#2563eb", done: "#16a34a",
    dead: "#dc2626", ignored: "#78716c" };
  let updates = 0;
  let timer = null;

  const $ = (selector) => document.querySelector(selector);
  const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));

  function node(tag, attrs, text) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) element.setAttribute(key, value);
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  function svgNode(tag, attrs, text) {
    const element = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = String(text);
    return element;
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function hourLabel(ms) {
    const d = new Date(ms);
    return String(d.getHours()).padStart(2, "0") + ":00";
  }

  function minuteLabel(ms) {
    const d = new Date(ms);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function relative(iso) {
    if (!iso) return "never";
    const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return Math.max(0, seconds) + " s ago";
    if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " d ago";
  }

  // A frame with a y axis: returns the plot geometry. viewBox units, not pixels.
  function frame(svg, max, unit) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const box = svg.viewBox.baseVal;
    const g = { left: 44, right: box.width - 8, top: 8, bottom: box.height - 22 };
    g.height = g.bottom - g.top;
    g.width = g.right - g.left;
    g.y = (v) => g.bottom - (v / max) * g.height;
    for (let i = 0; i <= 4; i++) {
      const value = (max * i) / 4;
      const y = g.y(value);
      svg.appendChild(svgNode("line", { x1: g.left, x2: g.right, y1: y, y2: y, class: "grid" }));
      const label = Number.isInteger(value) ? value : value.toFixed(1);
      svg.appendChild(svgNode("text", { x: g.left - 6, y: y + 4, class: "axis", "text-anchor": "end" },
        label + (unit || "")));
    }
    return g;
  }

  function xLabels(svg, g, labels, format, every) {
    const step = g.width / labels.length;
    labels.forEach((value, i) => {
      if (i % every !== 0) return;
      svg.appendChild(svgNode("text", { x: g.left + step * i + step / 2, y: g.bottom + 16,
        class: "axis", "text-anchor": "middle" }, format(value)));
    });
  }

  function legend(target, names, colours) {
    target.replaceChildren(...names.map((name, i) => {
      const item = node("span", { class: "key" });
      const swatch = svgNode("svg", { width: 10, height: 10, "aria-hidden": "true" });
      swatch.appendChild(svgNode("rect", { width: 10, height: 10, fill: colours[i] }));
      item.append(swatch, document.createTextNode(" " + name));
      return item;
    }));
  }

  // Stacked bars: series is {name: [values per slot]}. Sets data-total (sum of values drawn).
  function stackedBars(svg, labels, series, options) {
    const names = Object.keys(series);
    const colours = names.map((name, i) => (options.colours && options.colours[name]) || PALETTE[i % PALETTE.length]);
    const totals = labels.map((_, i) => names.reduce((sum, n) => sum + (series[n][i] || 0), 0));
    const g = frame(svg, niceMax(Math.max(0, ...totals, options.limit || 0)), "");
    const step = g.width / labels.length;
    let total = 0;
    labels.forEach((_, i) => {
      let base = 0;
      names.forEach((name, s) => {
        const value = series[name][i] || 0;
        if (!value) return;
        total += value;
        const y = g.y(base + value);
        const bar = svgNode("rect", { x: g.left + step * i + 1, y, width: Math.max(1, step - 2),
          height: g.y(base) - y, fill: colours[s], class: "bar" });
        bar.appendChild(svgNode("title", {}, `${options.format(labels[i])} ${name}: ${value}`));
        svg.appendChild(bar);
        base += value;
      });
    });
    if (options.limit) {
      const y = g.y(options.limit);
      svg.appendChild(svgNode("line", { x1: g.left, x2: g.right, y1: y, y2: y, class: "limit" }));
      svg.appendChild(svgNode("text", { x: g.right - 4, y: y - 4, class: "axis limit-label",
        "text-anchor": "end" }, options.limitLabel));
    }
    xLabels(svg, g, labels, options.format, options.every);
    svg.dataset.total = String(total);
    if (options.legend) legend(options.legend, names, colours);
    if (!total) {
      svg.appendChild(svgNode("text", { x: g.left + g.width / 2, y: g.top + g.height / 2,
        class: "axis", "text-anchor": "middle" }, "nothing yet"));
    }
  }

  // Lines with gaps where a value is null.
  function lines(svg, labels, series, options) {
    const names = Object.keys(series);
    const values = names.flatMap((n) => series[n].filter((v) => v !== null));
    const g = frame(svg, niceMax(Math.max(0, ...values)), "");
    const step = g.width / labels.length;
    names.forEach((name, s) => {
      let path = "";
      let pen = false;
      series[name].forEach((value, i) => {
        if (value === null) { pen = false; return; }
        const x = g.left + step * i + step / 2;
        path += (pen ? "L" : "M") + x.toFixed(1) + " " + g.y(value).toFixed(1) + " ";
        pen = true;
        const dot = svgNode("circle", { cx: x, cy: g.y(value), r: 3, fill: PALETTE[s % PALETTE.length], class: "point" });
        dot.appendChild(svgNode("title", {}, `${hourLabel(labels[i])} ${name}: ${value} ms`));
        svg.appendChild(dot);
      });
      if (path) svg.appendChild(svgNode("path", { d: path, stroke: PALETTE[s % PALETTE.length], class: "line" }));
    });
    xLabels(svg, g, labels, hourLabel, options.every);
    svg.dataset.points = String(values.length);
    legend(options.legend, names, names.map((_, s) => PALETTE[s % PALETTE.length]));
  }

  function renderTotals(data) {
    for (const element of document.querySelectorAll("[data-total]")) {
      if (element.tagName.toLowerCase() === "svg") continue;
      element.textContent = fmt(data.totals[element.dataset.total]);
    }
    document.body.classList.toggle("has-dead", data.totals.dead_letters > 0);
    const canvas = data.canvas;
    if (canvas.live && canvas.live.lookups > 0) {
      $("#canvas-rate").textContent = (canvas.live.hit_rate * 100).toFixed(1) + " %";
      $("#canvas-sub").textContent = `${fmt(canvas.live.cached)} of ${fmt(canvas.live.lookups)} lookups cached · ${fmt(canvas.entries)} entries`;
    } else {
      $("#canvas-rate").textContent = "–";
      $("#canvas-sub").textContent = `no lookups yet · ${fmt(canvas.entries)} entries, ${fmt(canvas.hits)} hits`;
    }
  }

  function renderLatency(data) {
    lines($("#chart-latency"), data.hours, data.latency.hourly_avg_ms, { every: 4, legend: $("#legend-latency") });
    const rows = Object.entries(data.latency.by_type).map(([kind, s]) => {
      const row = node("tr", { "data-type": kind });
      for (const cell of [kind, fmt(s.count), s.avg_ms + " ms", s.p50_ms + " ms", s.p95_ms + " ms", s.max_ms + " ms"]) {
        row.appendChild(node("td", {}, cell));
      }
      return row;
    });
    $("#latency-table tbody").replaceChildren(...rows);
  }

  function renderInbox(data) {
    const entries = Object.entries(data.inbox);
    const max = Math.max(1, ...entries.map(([, n]) => n));
    $("#inbox").replaceChildren(...entries.map(([state, count]) => {
      const row = node("div", { class: "hbar", "data-state": state });
      const track = node("span", { class: "track" });
      const fill = node("span", { class: "fill state-" + state });
      fill.style.width = ((count / max) * 100).toFixed(1) + "%";
      fill.style.background = STATE_COLOURS[state] || "#64748b";
      track.appendChild(fill);
      row.append(node("span", { class: "name" }, state.replace("_", " ")), track,
        node("span", { class: "n" }, fmt(count)));
      return row;
    }));
  }

  function renderRequests(data) {
    for (const [api, info] of Object.entries(data.requests.apis)) {
      const gauge = $("#gauge-" + api);
      const rate = info.rate_per_s;
      const share = rate === null ? 0 : Math.min(1, rate / info.limit_per_s);
      const fill = node("span", { class: "fill" + (share >= 0.9 ? " hot" : "") });
      fill.style.width = (share * 100).toFixed(1) + "%";
      const track = node("span", { class: "track" });
      track.appendChild(fill);
      const text = rate === null ? "measuring…" : `${rate.toFixed(2)} / ${info.limit_per_s} req/s now`;
      const more = info.total === null ? "" : ` · ${fmt(info.total)} requests since start · ${fmt(info.pauses_429)} × 429`;
      gauge.replaceChildren(track, node("span", { class: "gauge-text", "data-api": api }, text + more));
      const perMinute = {};
      perMinute["requests/min"] = info.per_minute;
      stackedBars($("#chart-req-" + api), data.requests.minutes, perMinute, {
        format: minuteLabel, every: 10, limit: info.limit_per_s * 60,
        limitLabel: `limit ${info.limit_per_s * 60}/min`, colours: { "requests/min": api === "notion" ? "#111827" : "#4f46e5" },
      });
    }
  }

  function renderDeadLetters(data) {
    const dead = data.dead_letters;
    $("#dlq-count").textContent = dead.count ? `(${fmt(dead.count)}${dead.count > dead.recent.length ? `, ${dead.recent.length} newest shown` : ""})` : "";
    $("#dlq-empty").hidden = dead.recent.length > 0;
    $("#dlq").hidden = dead.recent.length === 0;
    $("#dlq tbody").replaceChildren(...dead.recent.map((letter) => {
      const row = node("tr", { "data-id": String(letter.id) });
      row.append(node("td", {}, letter.id), node("td", { class: "mono" }, `${letter.event_type} ${letter.event_id}`),
        node("td", { class: "mono" }, letter.partition_key || "–"), node("td", {}, letter.attempts),
        node("td", { title: letter.dead_at || "" }, relative(letter.dead_at)), node("td", { class: "reason" }, letter.last_error));
      const button = node("button", { type: "button", class: "replay", "data-id": String(letter.id) }, "Replay");
      button.addEventListener("click", () => replay(letter.id, button));
      const cell = node("td");
      cell.appendChild(button);
      row.appendChild(cell);
      return row;
    }));
  }

  function renderPhones(data) {
    $("#phones").replaceChildren(...data.phone_numbers.map((phone) => {
      const card = node("article", { class: "phone card", "data-phone": phone.id });
      const head = node("header");
      head.append(node("h3", {}, phone.name || phone.number), node("span", { class: "badge state-" + phone.state }, phone.state));
      const facts = node("dl");
      const fact = (label, value, key, title) => {
        facts.appendChild(node("dt", {}, label));
        facts.appendChild(node("dd", Object.assign(key ? { "data-field": key } : {}, title ? { title } : {}), value));
      };
      fact("Number", phone.number, "number");
      fact("Id", phone.id);
      fact("Calls synced", fmt(phone.total_calls_synced), "total_calls_synced");
      fact("Messages synced", fmt(phone.total_messages_synced), "total_messages_synced");
      fact("Last call sync", relative(phone.last_call_sync_at), "last_call_sync_at", phone.last_call_sync_at);
      fact("Last message sync", relative(phone.last_message_sync_at), "last_message_sync_at", phone.last_message_sync_at);
      fact("Last scheduled run", relative(phone.last_scheduled_run), "last_scheduled_run", phone.last_scheduled_run);
      fact("Work", `${fmt(phone.pending)} pending · ${fmt(phone.in_flight)} in flight · ${fmt(phone.dead)} dead`, "work");
      const cursors = Object.entries(phone.cursors || {});
      fact("Cursor", cursors.length ? cursors.map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("\n") : "none yet", "cursors");
      card.append(head, facts);
      return card;
    }));
  }

  function render(data) {
    renderTotals(data);
    stackedBars($("#chart-events"), data.hours, data.events_by_type, { format: hourLabel, every: 3, legend: $("#legend-events") });
    stackedBars($("#chart-synced"), data.hours, data.synced_by_type, { format: hourLabel, every: 3, legend: $("#legend-synced"),
      colours: { call: "#2563eb", message: "#16a34a", failed: "#dc2626" } });
    renderLatency(data);
    renderInbox(data);
    renderRequests(data);
    renderDeadLetters(data);
    renderPhones(data);
    updates += 1;
    document.body.dataset.updates = String(updates);
    document.body.dataset.generated = data.generated_at;
    setStatus(`live · updated ${new Date(data.now_ms).toLocaleTimeString()}`, false);
  }

  function setStatus(text, bad) {
    const status = $("#status");
    status.textContent = text;
    status.classList.toggle("bad", bad);
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const response = await fetch("/api/dashboard", { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.status === 401 || response.status === 404) {
        window.location.assign("/login");
        return;
      }
      if (!response.ok) throw new Error("the service answered " + response.status);
      render(await response.json());
    } catch (error) {
      setStatus("not updated: " + error.message, true);
    } finally {
      timer = setTimeout(refresh, POLL_MS);
    }
  }

  async function replay(id, button) {
    button.disabled = true;
    button.textContent = "Replaying…";
    try {
      const response = await fetch(`/api/dlq/${id}/replay`, { method: "POST", credentials: "same-origin", headers: CSRF });
      if (response.status === 401) {
        window.location.assign("/login");
        return;
      }
      if (!response.ok && response.status !== 409) throw new Error("the service answered " + response.status);
      const row = button.closest("tr");
      if (row) row.remove();
      setStatus(`event ${id} replayed`, false);
    } catch (error) {
      button.disabled = false;
      button.textContent = "Replay";
      setStatus(`replay of ${id} failed: ${error.message}`, true);
      return;
    }
    await refresh();
  }

  document.addEventListener("DOMContentLoaded", refresh);
})();
