// Seleksi proctor console: one session's terminals live over /ws/proctor/{id};
// every act (pause, resume, extend, release, void, note) needs a reason and
// goes to the server's REST endpoints, which audit it (docs/protocol.md).
//
// The room view shows every terminal at once as a tile (status, progress,
// time left, alert badge); a room of up to 12 opens in the detailed list
// instead (the proctor can switch, and the choice is remembered). Choosing a
// tile shows that candidate's acts and alert history in the panel beside the
// room; the incident log sits under it.
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const VIEW_KEY = "seleksi.proctorView";
  const LIST_UP_TO = 12; // rooms this small fit the detailed list on a laptop screen
  const ENDED = ["finished", "void", "absent"];
  // The order "status" sorts by: what needs the proctor first.
  const STATUS_ORDER = ["disconnected", "paused", "working", "waiting", "finished", "void", "absent"];

  const P = {
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
    selected: null, // registration number shown in the detail panel
    tiles: new Map(), // registration number → tile button
    order: "", // the tiles' order last rendered
  };

  function show(screen) {
    for (const name of ["login", "choose", "console"]) {
      $("screen-" + name).classList.toggle("hidden", name !== screen);
    }
    $("staff-name").textContent = P.name;
  }

  // --- login and the session ------------------------------------------------------------

  // Any staff role may sign in: the server says which sessions it may watch.
  const staff = S.staffSession({
    storageKey: "seleksi.staff",
    logout: null, // the console has no logout button
    onLogin: (reply) => {
      P.name = reply.name || $("username").value.trim();
      store.setItem("seleksi.staffName", P.name);
      start(); // not awaited: its errors are not the login's
    },
    onLogout: () => show("login"),
  });

  async function start() {
    if (!staff.token) return show("login");
    if (P.sessionId) {
      show("console");
      return connect();
    }
    try {
      const sessions = await staff.call("GET", "/api/live/sessions");
      const list = $("session-list");
      list.replaceChildren();
      for (const s of sessions) {
        list.append(
          S.el(
            "li",
            {},
            S.el("a", { href: "?session=" + s.id }, s.code + " · " + s.exam + " · " + s.room),
            " (" + S.t("session." + s.status) + ")"
          )
        );
      }
      show("choose");
    } catch (err) {
      if (err.status === 401) return undefined; // logged out
      throw err;
    }
    return undefined;
  }

  // --- the live channel ---------------------------------------------------------------------

  function connect() {
    const ws = new WebSocket(S.wsUrl("/ws/proctor/" + P.sessionId));
    P.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: staff.token }));
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
        // The login stopped working (expired, or the account was disabled):
        // the login form says why, as on every staff page.
        if (["bad_token", "expired_token", "account_disabled"].includes(msg.code)) staff.ended(msg.code);
        else $("action-result").textContent = S.errorText(msg.code);
      }
    };
    ws.onclose = () => {
      if (P.ws !== ws) return;
      P.live = false;
      renderLive();
      if (!staff.token) return;
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
    const status = $("session-status");
    status.className = "status session-" + session.status;
    status.textContent = S.t("session." + session.status);
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
    if (!staff.token) return;
    try {
      const latest = await staff.call("GET", "/api/v1/checkpoints/latest");
      showCheckpoint(latest.fingerprint);
    } catch (err) {
      /* not shown while the server cannot say; the next refresh tries again */
    }
  }
  setInterval(refreshCheckpoint, 60000);

  // --- what a row says ---------------------------------------------------------------------

  function timeLeft(row) {
    if (ENDED.includes(row.status)) return 0;
    if (typeof row.deadline_at !== "number" || row.status === "paused") return row.remaining;
    // A dropped terminal's clock runs through the grace period, then stops.
    const now = typeof row.clock_stops_at === "number" ? Math.min(P.clock.now(), row.clock_stops_at) : P.clock.now();
    return Math.max(0, row.deadline_at - now);
  }

  function alertText(alert) {
    return alert && alert.message ? alert.message[S.lang] || alert.message.id : "";
  }

  function alertLog(row) {
    return row.alert_log || (row.last_alert ? [row.last_alert] : []);
  }

  function hasCritical(row) {
    return alertLog(row).some((a) => a.severity === "critical");
  }

  function progressText(row) {
    return row.answered + " / " + (row.n_items || "?");
  }

  /** The tile's short form (a tile is 8 columns of a laptop screen wide). */
  function tileProgress(row) {
    return row.answered + "/" + (row.n_items || "?");
  }

  function timeText(row) {
    return row.status === "absent" || row.status === "waiting" && row.attempt_id == null ? "–" : S.fmtDuration(timeLeft(row));
  }

  // --- filtering and sorting -------------------------------------------------------------------

  function visibleRows() {
    const status = $("filter-status").value;
    const onlyAlerts = $("filter-alerts").checked;
    const sort = $("sort-by").value;
    const rows = [...P.rows.values()].filter((r) => (!status || r.status === status) && (!onlyAlerts || r.alerts > 0));
    const byRegno = (a, b) => a.registration_number.localeCompare(b.registration_number);
    const latest = (r) => (r.last_alert && r.last_alert.at) || 0;
    const keys = {
      regno: () => 0,
      alerts: (a, b) => latest(b) - latest(a) || b.alerts - a.alerts,
      status: (a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status),
      time: (a, b) => (timeLeft(a) ?? Infinity) - (timeLeft(b) ?? Infinity),
      progress: (a, b) => a.answered / (a.n_items || 1) - b.answered / (b.n_items || 1),
    };
    const key = keys[sort] || keys.regno;
    return rows.sort((a, b) => key(a, b) || byRegno(a, b));
  }

  function currentView() {
    const chosen = localStorage.getItem(VIEW_KEY);
    if (chosen === "room" || chosen === "list") return chosen;
    return P.rows.size > LIST_UP_TO ? "room" : "list";
  }

  function setView(view) {
    localStorage.setItem(VIEW_KEY, view);
    P.order = "";
    renderGrid();
  }

  // --- rendering ----------------------------------------------------------------------------------

  function renderLive() {
    $("live-dot").classList.toggle("on", P.live);
    $("live-text").textContent = S.t(P.live ? "proctor.live" : "proctor.offline");
  }

  function actionButtons(row, small) {
    const buttons = [];
    const cls = (extra) => [extra || "", small ? "small" : ""].join(" ").trim();
    const add = (action, extra) =>
      buttons.push(
        S.el(
          "button",
          {
            type: "button",
            class: cls(extra),
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
          { type: "button", class: cls(), dataset: { action: "checkin", regno: row.registration_number }, onclick: () => issuePin(row) },
          S.t("admin.checkin")
        )
      );
    }
    if (row.attempt_id === null || row.attempt_id === undefined) return buttons;
    if (row.status === "working" || row.status === "disconnected") add("pause");
    if (row.status === "paused") add("resume", "primary");
    if (["working", "disconnected", "paused"].includes(row.status)) {
      add("extend");
      add("release", "caution");
      add("void", "danger");
    }
    if (row.status !== "absent") add("note");
    return buttons;
  }

  function statusChip(row) {
    return S.el("span", { class: "status " + row.status }, S.t("status." + row.status));
  }

  function renderRow(row) {
    const alert = row.last_alert;
    return S.el(
      "tr",
      { dataset: { regno: row.registration_number, status: row.status } },
      S.el("td", {}, row.registration_number),
      S.el("td", {}, row.name),
      S.el("td", {}, statusChip(row)),
      S.el("td", { class: "num", "data-col": "answered" }, progressText(row)),
      S.el("td", { class: "num" }, String(row.doubtful)),
      S.el("td", { class: "num", "data-col": "time" }, timeText(row)),
      S.el("td", {}, row.last_seen ? S.fmtAgo(P.clock.now() - row.last_seen) : "–"),
      S.el(
        "td",
        { "data-col": "alerts" },
        row.alerts
          ? S.el(
              "button",
              {
                type: "button",
                class: "link alert-badge " + ((alert && alert.severity) || ""),
                onclick: () => select(row.registration_number),
              },
              row.alerts + " · " + alertText(alert)
            )
          : ""
      ),
      S.el("td", {}, S.el("div", { class: "row-actions" }, actionButtons(row, true)))
    );
  }

  /** A tile's content; the tile itself is kept across renders (focus stays on it). */
  function fillTile(tile, row) {
    const selected = P.selected === row.registration_number;
    tile.className = "tile " + row.status + (hasCritical(row) ? " critical" : row.alerts ? " alerted" : "");
    tile.dataset.status = row.status;
    tile.setAttribute("aria-pressed", selected ? "true" : "false");
    const badge = row.alerts
      ? S.el(
          "span",
          { class: "t-badge " + (hasCritical(row) ? "critical" : ""), "data-col": "alerts", title: alertText(row.last_alert) },
          S.el("span", { "aria-hidden": "true" }, "⚠"),
          S.el("span", { class: "sr-only" }, S.t("proctor.alertsTitle") + ": "),
          String(row.alerts)
        )
      : "";
    tile.replaceChildren(
      S.el("span", { class: "t-top" }, S.el("span", { class: "t-regno" }, row.registration_number), badge),
      S.el("span", { class: "t-name" }, row.name),
      S.el("span", { class: "t-status" }, S.t("status." + row.status)),
      S.el(
        "span",
        { class: "t-bottom" },
        S.el("span", { class: "t-progress", "data-col": "answered", "aria-label": S.t("proctor.col.progress") + " " + progressText(row) }, tileProgress(row)),
        S.el("span", { class: "t-time", "data-col": "time" }, timeText(row))
      )
    );
  }

  function tileFor(row) {
    let tile = P.tiles.get(row.registration_number);
    if (!tile) {
      tile = S.el("button", {
        type: "button",
        class: "tile",
        dataset: { regno: row.registration_number },
        onclick: () => select(row.registration_number),
        onkeydown: (ev) => moveFocus(ev, row.registration_number),
      });
      P.tiles.set(row.registration_number, tile);
    }
    fillTile(tile, row);
    return tile;
  }

  /** Arrow keys move between tiles (one tab stop for the whole room). */
  function moveFocus(ev, regno) {
    const keys = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: "down", ArrowUp: "up", Home: "home", End: "end" };
    if (!(ev.key in keys)) return;
    const tiles = [...$("room").querySelectorAll("button.tile")];
    const at = tiles.findIndex((t) => t.dataset.regno === regno);
    const columns = getComputedStyle($("room")).gridTemplateColumns.split(" ").length || 1;
    const step = keys[ev.key];
    let next = at;
    if (step === "down") next = at + columns;
    else if (step === "up") next = at - columns;
    else if (step === "home") next = 0;
    else if (step === "end") next = tiles.length - 1;
    else next = at + step;
    if (next < 0 || next >= tiles.length) return;
    ev.preventDefault();
    for (const t of tiles) t.tabIndex = -1;
    tiles[next].tabIndex = 0;
    tiles[next].focus();
  }

  function renderRoom(rows) {
    const room = $("room");
    const order = rows.map((r) => r.registration_number).join("\n");
    const tiles = rows.map(tileFor);
    if (order !== P.order) {
      // Only a changed order moves tiles (a moved element loses focus).
      const focused = document.activeElement;
      room.replaceChildren(...tiles.map((t) => S.el("li", {}, t)));
      if (focused && focused.classList && focused.classList.contains("tile") && room.contains(focused)) focused.focus();
      P.order = order;
    }
    // One tab stop: the selected tile, else the focused one, else the first.
    const active = tiles.find((t) => t === document.activeElement) || tiles.find((t) => t.dataset.regno === P.selected) || tiles[0];
    for (const t of tiles) t.tabIndex = t === active ? 0 : -1;
  }

  function renderList(rows) {
    const body = $("grid-body");
    // Keep keyboard focus on the same button across re-renders.
    const active = document.activeElement;
    const keep = active && active.dataset && active.dataset.action && body.contains(active) ? [active.dataset.action, active.dataset.regno] : null;
    body.replaceChildren(...rows.map(renderRow));
    if (keep) {
      const again = body.querySelector(`button[data-action="${keep[0]}"][data-regno="${CSS.escape(keep[1])}"]`);
      if (again) again.focus();
    }
  }

  function renderGrid() {
    const view = currentView();
    $("view-room").setAttribute("aria-pressed", view === "room" ? "true" : "false");
    $("view-list").setAttribute("aria-pressed", view === "list" ? "true" : "false");
    $("room").classList.toggle("hidden", view !== "room");
    $("list-wrap").classList.toggle("hidden", view !== "list");
    const rows = visibleRows();
    $("room-empty").classList.toggle("hidden", rows.length > 0 || P.rows.size === 0);
    if (view === "room") renderRoom(rows);
    else renderList(rows);
    const counts = { waiting: 0, working: 0, disconnected: 0, paused: 0, finished: 0, void: 0, absent: 0 };
    for (const r of P.rows.values()) if (r.status in counts) counts[r.status] += 1;
    $("session-counts").replaceChildren(
      ...Object.entries(counts)
        .filter(([status, n]) => n > 0 || ["working", "waiting", "disconnected"].includes(status))
        .map(([status, n]) => S.el("span", { class: "count status " + status, dataset: { status } }, n + " " + S.t("status." + status)))
    );
    renderDetail();
  }

  /** The selected candidate: facts, acts and the whole alert history. */
  function renderDetail() {
    const box = $("detail");
    const row = P.selected ? P.rows.get(P.selected) : null;
    box.classList.toggle("hidden", !row);
    if (!row) return;
    const keep = document.activeElement && box.contains(document.activeElement) ? document.activeElement.dataset.action || "close" : null;
    box.replaceChildren(
      S.el(
        "div",
        { class: "detail-head" },
        S.el("h3", { id: "detail-title" }, row.registration_number + " · " + row.name),
        S.el("button", { type: "button", class: "small", dataset: { action: "close" }, "aria-label": S.t("admin.close") + " " + row.registration_number, onclick: () => select(null) }, "✕")
      ),
      S.el(
        "dl",
        { class: "facts compact" },
        S.el("dt", {}, S.t("proctor.col.status")), S.el("dd", {}, statusChip(row)),
        S.el("dt", {}, S.t("proctor.col.progress")), S.el("dd", { "data-col": "answered" }, progressText(row) + (row.doubtful ? " · " + S.t("proctor.col.doubtful") + " " + row.doubtful : "")),
        S.el("dt", {}, S.t("proctor.col.time")), S.el("dd", { "data-col": "time" }, timeText(row)),
        S.el("dt", {}, S.t("proctor.col.seen")), S.el("dd", {}, row.last_seen ? S.fmtAgo(P.clock.now() - row.last_seen) : "–"),
        S.el("dt", {}, S.t("proctor.terminal")), S.el("dd", {}, row.terminal_id || "–")
      ),
      S.el("div", { class: "row-actions" }, actionButtons(row, true)),
      S.el("h4", {}, S.t("proctor.alertHistory", { n: row.alerts || 0 })),
      alertLog(row).length
        ? S.el("ol", { class: "alert-history", reversed: true }, ...alertLog(row).slice().reverse().map(alertItem))
        : S.el("p", { class: "hint" }, S.t("proctor.noAlerts"))
    );
    if (keep) {
      const again = box.querySelector(`button[data-action="${keep}"]`);
      if (again) again.focus();
    }
  }

  function alertItem(alert) {
    return S.el(
      "li",
      { class: "sev-" + (alert.severity || "warning") },
      S.el("span", { class: "when" }, S.fmtClock(alert.at)),
      " ",
      alert.severity === "critical" ? S.el("strong", {}, S.t("proctor.critical") + ": ") : "",
      alertText(alert)
    );
  }

  /** Every candidate with alerts, newest alert first, each with its history. */
  function renderAlertList() {
    const rows = [...P.rows.values()].filter((r) => r.alerts > 0);
    rows.sort((a, b) => ((b.last_alert && b.last_alert.at) || 0) - ((a.last_alert && a.last_alert.at) || 0));
    const list = $("alert-list");
    if (!rows.length) {
      list.replaceChildren(S.el("p", { class: "hint" }, S.t("proctor.noAlertsRoom")));
      return;
    }
    list.replaceChildren(
      ...rows.map((row) =>
        S.el(
          "section",
          { class: "alert-entry" + (hasCritical(row) ? " critical" : ""), dataset: { regno: row.registration_number } },
          S.el(
            "h3",
            {},
            S.el(
              "button",
              { type: "button", class: "link", dataset: { pick: row.registration_number }, onclick: () => select(row.registration_number) },
              row.registration_number + " · " + row.name
            ),
            " ",
            S.el("span", { class: "alert-count" }, S.t("proctor.alertCount", { n: row.alerts }))
          ),
          S.el("ol", { class: "alert-history", reversed: true }, ...alertLog(row).slice().reverse().map(alertItem))
        )
      )
    );
  }

  function select(regno) {
    P.selected = regno;
    renderGrid();
    if (regno) {
      const title = $("detail-title");
      if (title) {
        title.tabIndex = -1;
        title.focus();
      }
    }
  }

  function renderIncidents() {
    const list = $("incidents");
    const items = P.incidents.slice(-300).reverse();
    list.replaceChildren(
      ...items.map((inc) => {
        let text = inc.reason || "";
        if (inc.kind === "alert" && inc.data && inc.data.message) text = inc.data.message[S.lang] || inc.data.message.id;
        const label = (prefix) => (S.t(prefix + inc.kind) === prefix + inc.kind ? null : S.t(prefix + inc.kind));
        const kindLabel = label("kind.") || label("action.") || inc.kind;
        return S.el(
          "li",
          { class: inc.kind === "alert" ? "alert" : inc.kind === "void" ? "void" : "" },
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
    renderAlertList();
    renderIncidents();
  }

  // Countdowns and "last seen" move every second even without events.
  setInterval(() => {
    if (P.session && !document.querySelector("dialog[open]")) renderGrid();
  }, 1000);

  // --- acts -------------------------------------------------------------------------------------------

  /** What each act's dialog says and asks. confirm: the text to type
   * (a registration number or the session code) before a final act. */
  function actConfig(action, row) {
    if (action === "void") {
      return { danger: true, explain: ["action.void.final", "action.void.who"], note: "action.reason.internal", confirm: row && row.registration_number, submit: "action.void.submit" };
    }
    if (action === "release") {
      return { caution: true, explain: ["action.release.what"], submit: "action.release.submit" };
    }
    if (action === "close") {
      return { danger: true, explain: ["action.close.final"], confirm: P.session && P.session.code, submit: "action.close.submit" };
    }
    return { submit: "action.confirm" };
  }

  function openAction(action, row) {
    P.action = { action, row };
    // crypto.getRandomValues works outside secure contexts too (a site's LAN over http).
    P.requestId = Array.from(crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0")).join("");
    const cfg = actConfig(action, row);
    P.action.cfg = cfg;
    const who = row ? row.registration_number + " " + row.name : S.t("action.room");
    $("action-title").textContent = S.t("action.for", { action: S.t("action." + action + ".title") !== "action." + action + ".title" ? S.t("action." + action + ".title") : S.t("action." + action), who });
    const dialog = $("action-dialog");
    dialog.classList.toggle("danger-dialog", !!cfg.danger);
    dialog.classList.toggle("caution-dialog", !!cfg.caution);
    $("action-explain").replaceChildren(...(cfg.explain || []).map((key) => S.el("p", {}, S.t(key))));
    $("action-explain").classList.toggle("hidden", !cfg.explain);
    $("action-reason-note").textContent = S.t(cfg.note || "action.reason.audit");
    $("minutes-wrap").classList.toggle("hidden", action !== "extend");
    $("action-confirm-wrap").classList.toggle("hidden", !cfg.confirm);
    $("action-confirm-label").textContent = cfg.confirm ? S.t("action.typeToConfirm", { text: cfg.confirm }) : "";
    $("action-confirm-text").value = "";
    $("action-reason").value = "";
    $("action-error").textContent = "";
    const submit = $("action-submit");
    submit.textContent = S.t(cfg.submit);
    submit.className = cfg.danger ? "danger primary" : "primary";
    dialog.showModal();
    $("action-reason").focus();
  }

  $("action-cancel").addEventListener("click", () => $("action-dialog").close());
  $("action-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { action, row, cfg } = P.action;
    const reason = $("action-reason").value.trim();
    if (!reason) {
      $("action-error").textContent = S.t("err.required");
      $("action-reason").focus();
      return;
    }
    if (cfg.confirm && $("action-confirm-text").value.trim() !== cfg.confirm) {
      $("action-error").textContent = S.t("action.confirmMismatch", { text: cfg.confirm });
      $("action-confirm-text").focus();
      return;
    }
    const body = { reason };
    if (action === "extend") body.seconds = Math.round(Number($("action-minutes").value) * 60);
    // One id per dialog: trying again after an error extends no attempt twice.
    if (!row) body.request_id = P.requestId;
    try {
      if (action === "close") {
        const closed = await staff.call("POST", "/api/sessions/" + P.sessionId + "/close", body);
        if (closed.checkpoint) showCheckpoint(closed.checkpoint);
        setSession({ ...P.session, status: "closed" });
      } else if (row) {
        await staff.call("POST", "/api/proctor/attempts/" + row.attempt_id + "/" + action, body);
      } else {
        await staff.call("POST", "/api/proctor/sessions/" + P.sessionId + "/" + action, body);
      }
      $("action-dialog").close();
      $("action-result").textContent = S.t("action.done", { action: S.t("action." + action) });
    } catch (err) {
      if (err.status === 401) $("action-dialog").close(); // logged out: the login says why
      else $("action-error").textContent = S.errorText(err.code);
    }
  });

  async function issuePin(row) {
    try {
      const reply = await staff.call("POST", "/api/proctor/sessions/" + P.sessionId + "/checkin", {
        registration_number: row.registration_number,
      });
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
      const reply = await staff.call("POST", "/api/sessions/" + P.sessionId + "/open", {});
      setSession({ ...P.session, status: "open", token: reply.token });
    } catch (err) {
      $("action-result").textContent = S.errorText(err.code);
    }
  });
  for (const id of ["filter-status", "filter-alerts", "sort-by"]) $(id).addEventListener("change", () => renderGrid());
  $("view-room").addEventListener("click", () => setView("room"));
  $("view-list").addEventListener("click", () => setView("list"));

  document.addEventListener("seleksi:lang", () => {
    if (P.session) {
      setSession(P.session);
      renderAll();
    }
  });
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
