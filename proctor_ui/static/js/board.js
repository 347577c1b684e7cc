// Seleksi public live board: running and final scores of a session, ordered by
// total, refreshed over /ws/board/{id}. It shows only what is published:
// registration number, name, formation, points per subtest, total, status.
// Running scores arrive in released batches (the exam's cadence, shown on the
// page: docs/protocol.md "The public board"), final scores at finish; the
// absent show TH and the disqualified DIS, with no points and no reason.
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const B = {
    sessionId: Number(S.query("session")) || null,
    session: null,
    rows: new Map(), // registration number → row
    sections: [],
    clock: new S.ServerClock(),
    retry: 0,
    live: false,
    lastUpdate: null,
    flash: new Map(), // registration number → until (ms)
  };

  async function choose() {
    const sessions = await S.api("GET", "/api/live/board-sessions");
    $("chooser").classList.remove("hidden");
    $("session-list").replaceChildren(
      ...sessions.map((s) => S.el("li", {}, S.el("a", { href: "?session=" + s.id, style: "color:#fff" }, s.code + " · " + s.exam + " · " + s.room)))
    );
  }

  function connect() {
    const ws = new WebSocket(S.wsUrl("/ws/board/" + B.sessionId));
    B.ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      B.lastFrame = Date.now();
      B.clock.sync(msg.now);
      if (msg.session) B.session = msg.session;
      if ("checkpoint" in msg) B.checkpoint = msg.checkpoint;
      if (msg.type === "snapshot") {
        B.rows = new Map(msg.rows.map((r) => [r.registration_number, r]));
        B.live = true;
        B.retry = 0;
      } else if (msg.type === "update") {
        for (const row of msg.rows) {
          B.rows.set(row.registration_number, row);
          B.flash.set(row.registration_number, Date.now() + 1500);
        }
      } else if (msg.type === "error") {
        $("board-sub").textContent = S.errorText(msg.code);
        return;
      }
      if (msg.type !== "tick") B.lastUpdate = msg.now;
      render();
    };
    ws.onclose = () => {
      if (B.ws !== ws) return;
      B.live = false;
      render();
      const delay = Math.min(5000, 500 * 2 ** Math.min(B.retry, 4));
      B.retry += 1;
      setTimeout(connect, delay);
    };
  }

  function statusPill(row) {
    if (row.status === "absent") return S.el("span", { class: "pill other" }, S.t("board.absent"));
    if (row.status === "void") return S.el("span", { class: "pill other" }, S.t("board.void"));
    if (row.final && row.passed === true) return S.el("span", { class: "pill pass" }, S.t("board.pass"));
    if (row.final && row.passed === false) return S.el("span", { class: "pill fail" }, S.t("board.fail"));
    if (row.final) return S.el("span", { class: "pill other" }, S.t("board.finished"));
    const pill = S.el("span", { class: "pill running" }, S.t("board.running"));
    // When the running points shown were current (their release), not "now".
    if (!row.as_of) return pill;
    return S.el("span", {}, pill, " ", S.el("span", { class: "board-asof" }, S.t("board.asof", { t: S.fmtClock(row.as_of) })));
  }

  function cadenceText() {
    const c = B.session && B.session.board;
    if (!c) return "";
    if (!c.show_running) return S.t("board.finalOnly");
    return S.t("board.cadence", { n: c.batch_answers, m: Math.round(c.min_interval_seconds / 60) });
  }

  // The latest signed checkpoint of the exam records: a witness anyone in
  // the room can copy (docs/protocol.md "The public board").
  function renderCheckpoint() {
    const cp = B.checkpoint;
    const box = $("board-checkpoint");
    box.classList.toggle("hidden", !cp);
    if (!cp) return;
    const [before, after] = S.t("board.checkpoint", { fp: "\u0000", n: cp.n, t: S.fmtClock(cp.at) }).split("\u0000");
    box.replaceChildren(before, S.el("span", { class: "fp" }, cp.fingerprint), after);
  }

  // Candidates with a score first (highest total first), then TH and DIS;
  // ties by registration number so the order is stable.
  const ranked = (r) => r.status !== "absent" && r.status !== "void";
  function order(a, b) {
    return (ranked(b) - ranked(a)) || ((b.total ?? 0) - (a.total ?? 0)) || a.registration_number.localeCompare(b.registration_number);
  }

  function render() {
    $("live-dot").classList.toggle("on", B.live);
    $("updated").textContent = B.lastUpdate ? S.t("board.updated", { t: S.fmtClock(B.lastUpdate) }) : "";
    if (!B.session) return;
    $("board-title").textContent = B.session.exam.name;
    $("board-sub").textContent = B.session.code + " · " + B.session.room;
    $("board-cadence").textContent = cadenceText();
    renderCheckpoint();
    const rows = [...B.rows.values()];
    const codes = [];
    for (const r of rows) for (const c of Object.keys(r.sections || {})) if (!codes.includes(c)) codes.push(c);
    rows.sort(order);
    $("board-head").replaceChildren(
      S.el("th", { class: "num" }, S.t("board.rank")),
      S.el("th", {}, S.t("board.regno")),
      S.el("th", {}, S.t("board.name")),
      ...codes.map((c) => S.el("th", { class: "num" }, c)),
      S.el("th", { class: "num" }, S.t("board.total")),
      S.el("th", {}, S.t("board.status"))
    );
    const now = Date.now();
    $("board-body").replaceChildren(
      ...rows.map((r, i) =>
        S.el(
          "tr",
          { class: (B.flash.get(r.registration_number) || 0) > now ? "flash" : "", dataset: { regno: r.registration_number } },
          S.el("td", { class: "num" }, ranked(r) ? String(i + 1) : "–"),
          S.el("td", {}, r.registration_number),
          S.el("td", {}, r.name),
          ...codes.map((c) => S.el("td", { class: "num" }, ranked(r) ? S.fmtPoints((r.sections || {})[c] ?? 0) : "–")),
          S.el("td", { class: "num total" }, S.fmtPoints(r.total)),
          S.el("td", {}, statusPill(r))
        )
      )
    );
    $("board-empty").classList.toggle("hidden", rows.length > 0);
    paginate();
  }

  // A large screen shows what fits and turns the page every PAGE_SECONDS,
  // so a room of hundreds stays readable from afar without scrolling.
  const PAGE_SECONDS = 10;
  B.page = 0;
  function paginate() {
    const body = $("board-body");
    const rows = [...body.children];
    rows.forEach((r) => (r.hidden = false));
    if (!rows.length) return ($("board-page").textContent = "");
    const top = body.getBoundingClientRect().top;
    const rowHeight = rows[0].getBoundingClientRect().height || 1;
    const perPage = Math.max(1, Math.floor((window.innerHeight - top - 16) / rowHeight));
    const pages = Math.ceil(rows.length / perPage);
    B.page = B.page % pages;
    rows.forEach((r, i) => (r.hidden = Math.floor(i / perPage) !== B.page));
    $("board-page").textContent = pages > 1 ? S.t("board.page", { p: B.page + 1, n: pages }) : "";
  }
  setInterval(() => {
    B.page += 1;
    if (B.session) paginate();
  }, PAGE_SECONDS * 1000);
  window.addEventListener("resize", paginate);

  setInterval(() => {
    if (B.session) render();
  }, 1500);
  document.addEventListener("seleksi:lang", render);
  // The server sends at least a tick every 5 s: silence means a dead link.
  setInterval(() => {
    const ws = B.ws;
    if (ws && ws.readyState === WebSocket.OPEN && Date.now() - B.lastFrame > 12000) {
      B.ws = null; // its late onclose is ignored
      ws.close();
      B.live = false;
      render();
      setTimeout(connect, 500);
    }
  }, 4000);

  document.addEventListener("DOMContentLoaded", () => {
    if (B.sessionId) connect();
    else choose();
  });
})();
