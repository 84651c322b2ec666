"use strict";
// vrtherapy console, the live page (docs/console.md section 4). No framework, no inline
// script (the CSP allows only this file and uPlot), no third-party requests.
(function () {
  const WINDOW_S = 300;
  const PING_EVERY_MS = 2000;
  const $ = (id) => document.getElementById(id);
  const S = {
    me: null, sid: null, info: null, status: null, ws: null, attempts: 0, retry: null,
    lost: null, active: false, pings: new Map(), pending: new Map(), pingId: 0,
    offset: null, rtt: null, newest: null, origin: null, dirty: false, stopArmed: null,
    f: { t: [], hr: [], scl: [], scr: [], arousal: [], rmssd: [], valid: [] },
    it: { t: [], v: [] }, log: [], charts: {},
  };

  // ------------------------------------------------------------------ helpers
  function uuid() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function mmss(seconds) {
    if (seconds == null || !isFinite(seconds)) return "--:--";
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0") + ":" + String(r).padStart(2, "0");
    return h ? `${h}:${mm}` : mm;
  }
  function fmt(x, digits, unit) {
    return x == null || !isFinite(x) ? "-" : x.toFixed(digits) + (unit ? " " + unit : "");
  }
  function text(id, value) { const el = $(id); if (el.textContent !== value) el.textContent = value; }
  function show(id, on, message) {
    const el = $(id);
    el.hidden = !on;
    if (message !== undefined) el.textContent = message;
  }
  async function api(path, options) {
    const init = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (init.method === "POST") init.headers["X-CSRF-Token"] = S.me ? S.me.csrf : "";
    const r = await fetch(path, init);
    if (r.status === 401) { window.location.assign("/login?error=idle"); throw new Error("401"); }
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
    return r.json();
  }
  // the session's clock: x of the charts is seconds since the session started
  function sessionX(t) { return t - (S.origin == null ? t : S.origin); }

  // ------------------------------------------------------------------ charts
  function chartOptions(el, series, extra) {
    const width = Math.max(200, el.clientWidth);
    return Object.assign({
      width, height: 120, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false } },
      axes: [
        { values: (u, v) => v.map((s) => mmss(s)), size: 28, stroke: "#5d6b7a" },
        { size: 44, stroke: "#5d6b7a" },
      ],
      series: [{}].concat(series),
    }, extra || {});
  }
  function makeCharts() {
    if (typeof uPlot === "undefined") return;
    const defs = {
      hr: [{ stroke: "#c2410c", width: 1.5 }],
      scl: [{ stroke: "#0f766e", width: 1.5 },
            { stroke: "#0f766e", paths: () => null, points: { show: true, size: 7, fill: "#0f766e" } }],
      arousal: [{ stroke: "#7c3aed", width: 1.5 },
                { stroke: "rgba(26,127,55,.5)", width: 1, points: { show: false } }, { stroke: "rgba(26,127,55,.5)", width: 1, points: { show: false } }],
      intensity: [{ stroke: "#1f6feb", width: 1.5 }],
    };
    for (const [name, series] of Object.entries(defs)) {
      const el = $(`chart-${name}`);
      const extra = name === "arousal"
        ? { bands: [{ series: [3, 2], fill: "rgba(26,127,55,.12)" }], scales: { x: { time: false }, y: { range: [0, 1] } } }
        : name === "intensity" ? { scales: { x: { time: false }, y: { range: [0, 1] } } } : {};
      S.charts[name] = new uPlot(chartOptions(el, series, extra), chartData(name), el);
    }
    window.addEventListener("resize", () => {
      for (const [name, u] of Object.entries(S.charts)) {
        u.setSize({ width: Math.max(200, $(`chart-${name}`).clientWidth), height: 120 });
      }
    });
  }
  function chartData(name) {
    const x = S.f.t.map(sessionX);
    if (name === "hr") return [x, S.f.hr];
    if (name === "scl") {
      const marks = S.f.scl.map((v, i) => (i > 0 && S.f.scr[i] != null && S.f.scr[i - 1] != null && S.f.scr[i] > S.f.scr[i - 1] ? v : null));
      return [x, S.f.scl, marks];
    }
    if (name === "arousal") {
      const w = (S.status && S.status.window) || (S.info && S.info.window) || [null, null];
      return [x, S.f.arousal, x.map(() => w[0]), x.map(() => w[1])];
    }
    return [S.it.t.map(sessionX), S.it.v];
  }
  function redraw() {
    S.dirty = false;
    for (const [name, u] of Object.entries(S.charts)) {
      const data = chartData(name);
      u.setData(data);
      $(`chart-${name}`).dataset.points = String(data[0].length);
    }
  }
  function scheduleRedraw() {
    if (S.dirty) return;
    S.dirty = true;
    window.requestAnimationFrame(redraw);
  }
  function trim() {
    const oldest = (S.newest || 0) - WINDOW_S;
    let n = 0;
    while (n < S.f.t.length && S.f.t[n] < oldest) n++;
    if (n) for (const k of Object.keys(S.f)) S.f[k].splice(0, n);
    n = 0;
    while (n < S.it.t.length && S.it.t[n] < oldest) n++;
    if (n) { S.it.t.splice(0, n); S.it.v.splice(0, n); }
  }
  function addFeatures(row) {
    const [t, hr, scl, scr, arousal, rmssd, valid] = row;
    const k = S.f;
    k.t.push(t); k.hr.push(hr); k.scl.push(scl); k.scr.push(scr); k.arousal.push(arousal);
    k.rmssd.push(rmssd); k.valid.push(valid);
    S.newest = Math.max(S.newest || t, t);
    if (S.origin == null) S.origin = t;
    text("v-hr", fmt(hr, 0, "bpm")); text("v-rmssd", fmt(rmssd, 0, "ms"));
    text("v-scl", fmt(scl, 2, "\u00b5S")); text("v-scr", fmt(scr, 1, "/min"));
  }
  function addIntensity(t, v) {
    S.it.t.push(t); S.it.v.push(v);
    S.newest = Math.max(S.newest || t, t);
    if (S.origin == null) S.origin = t;
  }

  // ------------------------------------------------------------------ status and info
  function renderInfo(info) {
    S.info = info;
    text("title", info.title || info.protocol || "session");
    text("subtitle", [info.scene, info.participant, `session ${S.sid}`].filter(Boolean).join(" \u00b7 "));
    const box = $("scene-events");
    box.replaceChildren();
    const events = info.scene_events || [];
    for (const e of events) {
      const name = typeof e === "string" ? e : e.name;
      const b = document.createElement("button");
      b.type = "button"; b.className = "steer"; b.dataset.kind = "scene_event"; b.dataset.event = name;
      b.textContent = (typeof e === "object" && e.label) || name.replace(/_/g, " ");
      box.append(b);
    }
    if (!events.length) { const s = document.createElement("span"); s.className = "muted"; s.textContent = "none in this session"; box.append(s); }
    const kinds = info.prompts || ["suds", "nrs"];
    for (const b of document.querySelectorAll("[data-kind=ask_prompt]")) b.hidden = !kinds.includes(b.dataset.prompt);
    steerable();
  }
  function renderStatus(st) {
    S.status = st;
    if (st.time != null && st.elapsed_s != null) S.origin = st.time - st.elapsed_s;
    text("state", st.state || "?");
    $("state").className = "badge " + (st.state === "active" ? "ok" : st.state === "baseline" ? "" : "warn");
    text("elapsed", `${mmss(st.elapsed_s)} / ${mmss(st.remaining_s)} left`);
    text("step", st.step == null ? "-" : `${st.step + 1}/${st.steps_total}`);
    text("step-label", st.label || "");
    show("held", !!st.held_by, st.held_by ? `held by ${st.held_by}` : "");
    const pct = (x) => `${Math.round(100 * Math.min(1, Math.max(0, x || 0)))}%`;
    $("meter-shown").style.width = pct(st.intensity);
    $("meter-target").style.left = pct(st.target);
    text("intensity-text", `shown ${fmt(st.intensity, 2)} / target ${fmt(st.target, 2)}`);
    const w = st.window || [];
    text("v-arousal", `${fmt(st.arousal, 2)}${w.length ? ` (${w[0]}-${w[1]})` : ""}`);
    const p = st.prompt;
    text("v-prompt", p ? `${p.kind.toUpperCase()} open` : "none");
    const fr = st.frames || {};
    text("v-frames", fr.rate == null ? "-" : `${fmt(fr.rate, 0)} Hz, ${fr.late || 0} late`);
    text("next", st.next || "-");
    text("safety", st.safety || "-");
    renderStreams(st.streams || {});
  }
  function renderStreams(streams) {
    const list = $("streams");
    const problems = [];
    const rows = Object.entries(streams).map(([role, s]) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = role;
      const badge = document.createElement("span");
      const flags = (s.flags || []).join(", ");
      badge.className = "badge " + (s.status === "ok" ? "ok" : s.status === "ignored" ? "" : "danger");
      badge.textContent = s.status + (flags ? `: ${flags}` : "");
      if (s.status === "stale" || s.status === "flagged") problems.push(`${role} ${badge.textContent}`);
      const b = document.createElement("button");
      b.type = "button"; b.className = "steer small"; b.dataset.role = role;
      b.dataset.kind = s.status === "ignored" ? "watch_stream" : "ignore_stream";
      b.textContent = s.status === "ignored" ? "Watch" : "Ignore";
      li.append(name, badge, b);
      return li;
    });
    const key = JSON.stringify(streams);
    if (list.dataset.key !== key) { list.dataset.key = key; list.replaceChildren(...rows); steerable(); }
    show("banner-sensor", problems.length > 0, `Sensor problem: ${problems.join("; ")}`);
  }

  // ------------------------------------------------------------------ decision log
  function logLine(m) {
    const li = document.createElement("li");
    li.className = "ev-" + String(m.event || "other").replace(/[^a-z_]/g, "");
    const time = document.createElement("time");
    time.textContent = mmss(sessionX(m.t));
    const body = document.createElement("span");
    body.textContent = m.text || m.reason || m.event || JSON.stringify(m);
    li.append(time, body);
    return li;
  }
  function addMarker(m) {
    S.log.push(m);
    if (S.log.length > 300) S.log.shift();
    const list = $("log");
    list.prepend(logLine(m));
    while (list.children.length > 300) list.lastChild.remove();
  }

  // ------------------------------------------------------------------ commands
  function steerable() {
    const may = !!(S.me && S.me.may_steer) && !S.lost && S.ws && S.ws.readyState === WebSocket.OPEN;
    for (const el of document.querySelectorAll(".steer")) el.disabled = !may;
    show("view-only", !!S.me && !S.me.may_steer);
  }
  function result(message, cls) {
    const el = $("result");
    el.textContent = message;
    el.className = "result " + (cls || "");
  }
  function send(kind, fields) {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) { result("not connected: the command was not sent", "error"); return; }
    const id = uuid();
    S.pending.set(id, { kind, sent: performance.now() });
    S.ws.send(JSON.stringify(Object.assign({ type: "command", id, kind }, fields || {})));
    result(`${kind.replace(/_/g, " ")}: sent`, "");
  }
  function onResult(m) {
    const p = S.pending.get(m.id);
    S.pending.delete(m.id);
    const trip = p ? ` (${Math.round(performance.now() - p.sent)} ms round trip, ${Math.round(m.latency_ms)} ms at the console)` : "";
    const kind = p ? p.kind.replace(/_/g, " ") : "command";
    result(`${kind}: ${m.result}${trip}`, m.applied ? "ok" : "error");
  }
  function wireControls() {
    document.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-kind]");
      if (!b || b.disabled) return;
      const fields = {};
      if (b.dataset.prompt) fields.prompt = b.dataset.prompt;
      if (b.dataset.event) fields.event = b.dataset.event;
      if (b.dataset.role) fields.role = b.dataset.role;
      send(b.dataset.kind, fields);
    });
    $("stop").addEventListener("click", () => {
      const b = $("stop");
      if (S.stopArmed) {
        clearTimeout(S.stopArmed); S.stopArmed = null;
        b.classList.remove("confirm"); b.textContent = "Stop session";
        send("stop", {});
        return;
      }
      b.classList.add("confirm"); b.textContent = "Confirm stop?";
      S.stopArmed = setTimeout(() => { S.stopArmed = null; b.classList.remove("confirm"); b.textContent = "Stop session"; }, 5000);
    });
    $("answer-kind").addEventListener("change", () => { $("answer-value").max = $("answer-kind").value === "nrs" ? "10" : "100"; });
    $("answer-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      send("answer_prompt", { prompt: $("answer-kind").value, value: parseInt($("answer-value").value, 10) });
      $("answer-value").value = "";
    });
    $("note-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      send("note", { text: $("note-text").value });
      $("note-text").value = "";
    });
    $("logout").addEventListener("click", async () => {
      try { await api("/logout", { method: "POST" }); } finally { window.location.assign("/login?error=out"); }
    });
    $("pair").addEventListener("click", async () => {
      const r = await api("/api/pairing", { method: "POST" });
      show("pair-code", true, `Pairing code for a tablet: ${r.code} (one use, ${Math.round(r.expires_in_s / 60)} min)`);
      setTimeout(() => show("pair-code", false), r.expires_in_s * 1000);
    });
    for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, () => { S.active = true; }, { passive: true });
  }

  // ------------------------------------------------------------------ the WebSocket
  const handlers = {
    hello(m) {
      S.me.may_steer = m.may_steer;
      text("user", `${m.user} (${m.role})`);
      renderInfo(m.info);
      S.offset = m.server_time - performance.now() / 1000;
    },
    history(m) {
      for (const k of Object.keys(S.f)) S.f[k] = [];
      S.it = { t: [], v: [] }; S.log = []; $("log").replaceChildren();
      S.origin = null; S.newest = null;
      if (m.status) renderStatus(m.status);
      for (const row of m.features) addFeatures(row);
      for (const [t, v] of m.intensity) addIntensity(t, v);
      for (const marker of m.markers) addMarker(marker);
      scheduleRedraw();
    },
    status(m) { renderStatus(m.status); },
    features(m) { addFeatures(m.row); trim(); scheduleRedraw(); },
    intensity(m) { addIntensity(m.t, m.value); trim(); scheduleRedraw(); },
    marker(m) { addMarker(m.marker); },
    thumbnail(m) { $("thumb").src = m.data; show("thumb-box", true); },
    command_result(m) { onResult(m); },
    error(m) {
      if (m.id) S.pending.delete(m.id);
      result(m.message, "error");
    },
    session_lost(m) {
      S.lost = m.reason;
      show("banner-session", true, `Session lost: ${m.reason}. Its recording is kept; nothing more can be sent to it.`);
      steerable();
    },
    pong(m) {
      const sent = S.pings.get(m.id);
      S.pings.delete(m.id);
      if (sent == null) return;
      const now = performance.now();
      S.rtt = now - sent;
      S.offset = m.server_time - (now - S.rtt / 2) / 1000;
      showLatency();
    },
  };
  function showLatency() {
    let age = "";
    if (S.newest != null && S.offset != null) {
      const a = performance.now() / 1000 + S.offset - S.newest;
      age = `, data ${a < 10 ? a.toFixed(1) : Math.round(a)} s old`;
    }
    text("latency", `latency ${S.rtt == null ? "--" : Math.round(S.rtt) + " ms"}${age}`);
  }
  function ping() {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return;
    const id = ++S.pingId;
    S.pings.set(id, performance.now());
    S.ws.send(JSON.stringify({ type: "ping", id, active: S.active }));
    S.active = false;
    if (S.pings.size > 5) S.pings.delete(S.pings.keys().next().value);
  }
  function connect() {
    clearTimeout(S.retry);
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${window.location.host}/ws?sid=${encodeURIComponent(S.sid)}&csrf=${encodeURIComponent(S.me.csrf)}`;
    const ws = new WebSocket(url);
    S.ws = ws;
    ws.onopen = () => {
      S.attempts = 0;
      document.body.dataset.connects = String(Number(document.body.dataset.connects) + 1);
      show("banner-connection", false);
      show("live", true); show("chooser", false);
      steerable(); ping();
    };
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      const h = handlers[m.type];
      if (h) h(m);
    };
    ws.onclose = (ev) => {
      S.ws = null;
      steerable();
      if (ev.code === 4401) { window.location.assign("/login?error=idle"); return; }
      if (ev.code === 4410 || S.lost) { show("banner-connection", false); return; }
      reconnect();
    };
  }
  async function reconnect() {
    S.attempts += 1;
    const delay = Math.min(10000, 500 * 2 ** (S.attempts - 1)) * (0.8 + 0.4 * Math.random());
    show("banner-connection", true, `Connection to the console lost: reconnecting in ${Math.round(delay / 1000)} s (attempt ${S.attempts})`);
    S.retry = setTimeout(async () => {
      try {
        await api("/api/me"); // redirects to the login page when the login has ended
      } catch (e) {
        if (String(e.message) === "401") return;
        reconnect();
        return;
      }
      connect();
    }, delay);
  }

  // ------------------------------------------------------------------ start
  async function choose() {
    const r = await api("/api/sessions");
    const want = new URLSearchParams(window.location.search).get("sid") || r.default;
    const running = r.sessions.map((s) => s.sid);
    if (want && running.includes(want)) return want;
    if (running.length === 1) return running[0];
    show("chooser", true);
    show("chooser-empty", running.length === 0);
    const list = $("chooser-list");
    list.replaceChildren(...r.sessions.map((s) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/?sid=${encodeURIComponent(s.sid)}`;
      a.textContent = `${s.protocol} \u00b7 ${s.participant} \u00b7 started ${s.started} (${s.sid})`;
      li.append(a);
      return li;
    }));
    setTimeout(() => window.location.reload(), 5000);
    return null;
  }
  async function start() {
    S.me = await api("/api/me");
    text("user", `${S.me.user} (${S.me.role})`);
    $("pair").hidden = !S.me.may_steer;
    wireControls();
    steerable();
    S.sid = await choose();
    if (!S.sid) return;
    show("live", true);
    makeCharts();
    connect();
    setInterval(() => { ping(); showLatency(); }, PING_EVERY_MS);
  }
  start();
})();
