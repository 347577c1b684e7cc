// Seleksi proctor console: one session's terminals live over /ws/proctor/{id};
// every act (pause, resume, extend, release, void, note) needs a reason and
// goes to the server's REST endpoints, which audit it (docs/protocol.md).
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;

  const P = {
    token: store.getItem("seleksi.staff"),
    name: store.getItem("seleksi.staffName") || "",
    sessionId: Number(S.query("session")) || null,
    session: null,
    rows: new Map(), // registration number → row
    incidents: [],
    clock: new S.ServerClock(),
    ws: null,
    live: false,
    retry: 0,
    action: null, // the act being confirmed in the dialog
  };

  function show(screen) {
    for (const name of ["login", "choose", "console"]) {
      $("screen-" + name).classList.toggle("hidden", name !== screen);
    }
    $("staff-name").textContent = P.name;
  }

  // --- login and the session ------------------------------------------------------------

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    try {
      const reply = await S.api("POST", "/api/auth/login", {
        username: $("username").value.trim(),
        password: $("password").value,
      });
      P.token = reply.token;
      P.name = reply.name || $("username").value.trim();
      store.setItem("seleksi.staff", P.token);
      store.setItem("seleksi.staffName", P.name);
      start();
    } catch (err) {
      $("login-error").textContent = S.errorText(err.code, err.data);
    }
  });

  async function start() {
    if (!P.token) return show("login");
    if (P.sessionId) {
      show("console");
      return connect();
    }
    try {
      const sessions = await S.api("GET", "/api/live/sessions", undefined, P.token);
      const list = $("session-list");
      list.replaceChildren();
      for (const s of sessions) {
        list.append(
          S.el(
            "li",
            {},
            S.el("a", { href: "?session=" + s.id }, s.code + " · " + s.exam + " · " + s.room),
            " (" + s.status + ")"
          )
        );
      }
      show("choose");
    } catch (err) {
      if (err.status === 401) return logout();
      throw err;
    }
    return undefined;
  }

  function logout() {
    store.removeItem("seleksi.staff");
    P.token = null;
    show("login");
  }

  // --- the live channel ---------------------------------------------------------------------

  function connect() {
    const ws = new WebSocket(S.wsUrl("/ws/proctor/" + P.sessionId));
    P.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: P.token }));
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      P.lastFrame = Date.now();
      P.clock.sync(msg.now);
      if (msg.type === "snapshot") {
        P.live = true;
        P.retry = 0;
        P.rows = new Map(msg.terminals.map((r) => [r.registration_number, r]));
        P.incidents = msg.incidents.slice();
        setSession(msg.session);
        renderAll();
      } else if (msg.type === "update") {
        if (msg.session) setSession(msg.session);
        for (const row of msg.terminals || []) P.rows.set(row.registration_number, row);
        for (const inc of msg.incidents || []) P.incidents.push(inc);
        renderAll();
      } else if (msg.type === "error") {
        if (msg.code === "bad_token" || msg.code === "expired_token") logout();
        else $("action-result").textContent = S.errorText(msg.code);
      }
    };
    ws.onclose = () => {
      if (P.ws !== ws) return;
      P.live = false;
      renderLive();
      if (!P.token) return;
      const delay = Math.min(5000, 500 * 2 ** Math.min(P.retry, 4));
      P.retry += 1;
      setTimeout(connect, delay);
    };
  }

  function setSession(session) {
    P.session = session;
    $("session-title").textContent = session.code;
    $("session-exam").textContent = session.exam.name;
    $("session-room").textContent = session.room;
    const open = session.status === "open";
    $("token-wrap").classList.toggle("hidden", !open || !session.token);
    $("session-token").textContent = session.token || "";
    $("open-session").classList.toggle("hidden", session.status !== "scheduled");
    $("close-session").disabled = !open;
    refreshCheckpoint();
  }

  // The latest signed checkpoint of the chain heads: the proctor writes its
  // fingerprint in the session report (docs/operations.md, Checkpoints).
  function showCheckpoint(fingerprint) {
    $("checkpoint-wrap").classList.toggle("hidden", !fingerprint);
    $("checkpoint-fp").textContent = fingerprint || "";
  }
  async function refreshCheckpoint() {
    if (!P.token) return;
    try {
      const latest = await S.api("GET", "/api/v1/checkpoints/latest", undefined, P.token);
      showCheckpoint(latest.fingerprint);
    } catch (err) {
      /* not shown while the server cannot say; the next refresh tries again */
    }
  }
  setInterval(refreshCheckpoint, 60000);

  // --- rendering ----------------------------------------------------------------------------------

  function timeLeft(row) {
    if (row.status === "finished" || row.status === "void") return 0;
    if (typeof row.deadline_at !== "number" || row.status === "paused") return row.remaining;
    // A dropped terminal's clock runs through the grace period, then stops.
    const now = typeof row.clock_stops_at === "number" ? Math.min(P.clock.now(), row.clock_stops_at) : P.clock.now();
    return Math.max(0, row.deadline_at - now);
  }

  function renderLive() {
    $("live-dot").classList.toggle("on", P.live);
    $("live-text").textContent = S.t(P.live ? "proctor.live" : "proctor.offline");
  }

  function actionButtons(row) {
    const buttons = [];
    const add = (action, cls) =>
      buttons.push(
        S.el(
          "button",
          {
            type: "button",
            class: cls || "",
            dataset: { action, regno: row.registration_number },
            onclick: () => openAction(action, row),
          },
          S.t("action." + action)
        )
      );
    if (row.status === "waiting" || row.status === "disconnected") {
      // The desk (re)issues the check-in PIN after the identity check.
      buttons.push(
        S.el(
          "button",
          { type: "button", dataset: { action: "checkin", regno: row.registration_number }, onclick: () => issuePin(row) },
          S.t("admin.checkin")
        )
      );
    }
    if (row.attempt_id === null || row.attempt_id === undefined) return buttons;
    if (row.status === "working" || row.status === "disconnected") add("pause");
    if (row.status === "paused") add("resume", "primary");
    if (["working", "disconnected", "paused"].includes(row.status)) {
      add("extend");
      add("release");
      add("void", "danger");
    }
    add("note");
    return buttons;
  }

  function renderRow(row) {
    const left = timeLeft(row);
    const alert = row.last_alert;
    const alertText = alert && alert.message ? alert.message[S.lang] || alert.message.id : "";
    return S.el(
      "tr",
      { dataset: { regno: row.registration_number, status: row.status } },
      S.el("td", {}, row.registration_number),
      S.el("td", {}, row.name),
      S.el("td", {}, S.el("span", { class: "status " + row.status }, S.t("status." + row.status))),
      S.el("td", { class: "num", "data-col": "answered" }, row.answered + " / " + (row.n_items || "?")),
      S.el("td", { class: "num" }, String(row.doubtful)),
      S.el("td", { class: "num", "data-col": "time" }, S.fmtDuration(left)),
      S.el("td", {}, row.last_seen ? S.fmtAgo(P.clock.now() - row.last_seen) : "–"),
      S.el(
        "td",
        { "data-col": "alerts" },
        row.alerts
          ? S.el("span", { class: "alert-badge " + ((alert && alert.severity) || "") }, row.alerts + " · " + alertText)
          : ""
      ),
      S.el("td", {}, S.el("div", { class: "row-actions" }, actionButtons(row)))
    );
  }

  function renderGrid() {
    const body = $("grid-body");
    const rows = [...P.rows.values()].sort((a, b) => a.registration_number.localeCompare(b.registration_number));
    // Keep keyboard focus on the same button across re-renders.
    const active = document.activeElement;
    const keep = active && active.dataset && active.dataset.action ? [active.dataset.action, active.dataset.regno] : null;
    body.replaceChildren(...rows.map(renderRow));
    if (keep) {
      const again = body.querySelector(`button[data-action="${keep[0]}"][data-regno="${CSS.escape(keep[1])}"]`);
      if (again) again.focus();
    }
    const counts = { waiting: 0, working: 0, disconnected: 0, paused: 0, finished: 0 };
    for (const r of rows) if (r.status in counts) counts[r.status] += 1;
    $("session-counts").textContent = S.t("proctor.counts", counts);
  }

  function renderIncidents() {
    const list = $("incidents");
    const items = P.incidents.slice(-300).reverse();
    list.replaceChildren(
      ...items.map((inc) => {
        let text = inc.reason || "";
        if (inc.kind === "alert" && inc.data && inc.data.message) text = inc.data.message[S.lang] || inc.data.message.id;
        const label = (prefix) => (S.t(prefix + inc.kind) === prefix + inc.kind ? null : S.t(prefix + inc.kind));
        const kindLabel = label("action.") || label("kind.") || inc.kind;
        return S.el(
          "li",
          { class: inc.kind === "alert" ? "alert" : "" },
          S.el("span", { class: "when" }, S.fmtClock(inc.at)),
          " ",
          S.el("span", { class: "kind" }, kindLabel),
          inc.registration_number ? " · " + inc.registration_number : "",
          inc.actor ? " · " + inc.actor : "",
          text ? " — " + text : ""
        );
      })
    );
  }

  function renderAll() {
    renderLive();
    renderGrid();
    renderIncidents();
  }

  // Countdowns and "last seen" move every second even without events.
  setInterval(() => {
    if (P.session && !document.querySelector("dialog[open]")) renderGrid();
  }, 1000);

  // --- acts -------------------------------------------------------------------------------------------

  function openAction(action, row) {
    P.action = { action, row };
    const who = row ? row.registration_number + " " + row.name : S.t("action.room");
    $("action-title").textContent = S.t("action.for", { action: S.t("action." + action), who });
    $("minutes-wrap").classList.toggle("hidden", action !== "extend");
    $("action-reason").value = "";
    $("action-error").textContent = "";
    $("action-dialog").showModal();
    $("action-reason").focus();
  }

  $("action-cancel").addEventListener("click", () => $("action-dialog").close());
  $("action-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const reason = $("action-reason").value.trim();
    if (!reason) {
      $("action-error").textContent = S.t("err.required");
      $("action-reason").focus();
      return;
    }
    const { action, row } = P.action;
    const body = { reason };
    if (action === "extend") body.seconds = Math.round(Number($("action-minutes").value) * 60);
    try {
      if (action === "close") {
        const closed = await S.api("POST", "/api/sessions/" + P.sessionId + "/close", body, P.token);
        if (closed.checkpoint) showCheckpoint(closed.checkpoint);
      } else if (row) {
        await S.api("POST", "/api/proctor/attempts/" + row.attempt_id + "/" + action, body, P.token);
      } else {
        await S.api("POST", "/api/proctor/sessions/" + P.sessionId + "/" + action, body, P.token);
      }
      $("action-dialog").close();
      $("action-result").textContent = S.t("action.done", { action: S.t("action." + action) });
    } catch (err) {
      $("action-error").textContent = err.message && err.code !== err.message ? err.code + ": " + err.message : S.errorText(err.code);
    }
  });

  async function issuePin(row) {
    try {
      const reply = await S.api(
        "POST",
        "/api/proctor/sessions/" + P.sessionId + "/checkin",
        { registration_number: row.registration_number },
        P.token
      );
      $("pin-title").textContent = "PIN · " + row.registration_number + " " + row.name;
      $("pin-value").textContent = reply.pin;
      $("pin-dialog").showModal();
    } catch (err) {
      $("action-result").textContent = S.errorText(err.code);
    }
  }
  $("pin-close").addEventListener("click", () => $("pin-dialog").close());

  $("pause-all").addEventListener("click", () => openAction("pause", null));
  $("resume-all").addEventListener("click", () => openAction("resume", null));
  $("extend-all").addEventListener("click", () => openAction("extend", null));
  $("note-room").addEventListener("click", () => openAction("note", null));
  $("close-session").addEventListener("click", () => openAction("close", null));
  $("open-session").addEventListener("click", async () => {
    try {
      const reply = await S.api("POST", "/api/sessions/" + P.sessionId + "/open", {}, P.token);
      setSession({ ...P.session, status: "open", token: reply.token });
    } catch (err) {
      $("action-result").textContent = S.errorText(err.code);
    }
  });

  document.addEventListener("seleksi:lang", () => P.session && renderAll());
  // The server sends at least a tick every 5 s: silence means a dead link.
  setInterval(() => {
    const ws = P.ws;
    if (ws && ws.readyState === WebSocket.OPEN && Date.now() - P.lastFrame > 12000) {
      P.ws = null; // its late onclose is ignored
      ws.close();
      P.live = false;
      renderLive();
      setTimeout(connect, 500);
    }
  }, 4000);

  document.addEventListener("DOMContentLoaded", () => {
    renderLive();
    start();
  });
})();
