// Seleksi candidate terminal: login, identity check, one item per screen, the
// numbered map, "ragu-ragu", the server's countdown, offline queue with
// automatic reconnect, the finish dialog and the final score.
//
// The wire protocol is docs/protocol.md (version 1). Answers and flags are
// queued in an outbox (kept in sessionStorage, so even a reload keeps them)
// and removed only when the server acknowledges their seq: a selection is
// never shown as saved before it is durable.
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const store = window.sessionStorage;
  // No frame for this long = the connection is dead (tests shorten it).
  const LIVENESS_MS = (window.SeleksiConfig && window.SeleksiConfig.livenessMs) || 12000;

  const T = {
    token: store.getItem("seleksi.token"),
    terminalId: terminalId(),
    ws: null,
    ready: false, // hello accepted (state received)
    stopped: false, // no more reconnects (void, replaced, logged out, finished)
    retry: 0,
    clock: new S.ServerClock(),
    st: null, // last state frame
    deadline: null,
    clockRunning: false,
    remaining: null,
    status: null,
    items: new Map(), // number → item frame
    answers: new Map(), // number → option (local view, pending included)
    flags: new Map(), // number → bool
    current: null,
    highlight: -1,
    shownAt: performance.now(),
    outbox: JSON.parse(store.getItem("seleksi.outbox") || "[]"),
    lastAck: 0,
    wantNumber: null,
    pendingChoice: null, // an option key typed while the next item was on its way
    lastReport: 0,
    lastFrame: 0, // Date.now() of the last frame from the server
  };

  function terminalId() {
    let id = localStorage.getItem("seleksi.terminal");
    if (!id) {
      const rnd = new Uint8Array(6);
      crypto.getRandomValues(rnd);
      id = "T-" + Array.from(rnd, (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem("seleksi.terminal", id);
    }
    return id;
  }

  function saveOutbox() {
    store.setItem("seleksi.outbox", JSON.stringify(T.outbox));
  }

  // --- screens and banners ----------------------------------------------------------

  function show(screen) {
    for (const name of ["login", "identity", "test", "result"]) {
      $("screen-" + name).classList.toggle("hidden", name !== screen);
    }
    $("clock-wrap").classList.toggle("hidden", screen !== "test" && screen !== "identity");
    T.screen = screen;
  }

  function banner(kind, text) {
    const el = $("banner");
    el.className = "banner " + (kind || "");
    el.textContent = text || "";
    el.classList.toggle("hidden", !kind);
  }

  function refreshBanner() {
    if (T.stopped) return;
    if (!T.ready && T.token && T.everConnected) banner("offline", S.t("banner.offline"));
    else if (T.status === "paused") banner("paused", S.t("banner.paused"));
    else banner(null);
  }

  // --- login --------------------------------------------------------------------------

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const regno = $("regno").value.trim();
    const pin = $("pin").value.trim();
    const token = $("session-token").value.trim().toUpperCase();
    if (!regno || !pin || !token) {
      $("login-error").textContent = S.t("err.required");
      return;
    }
    $("login-submit").disabled = true;
    $("login-submit").textContent = S.t("login.busy");
    $("login-error").textContent = "";
    try {
      const reply = await S.api("POST", "/api/candidate/login", {
        registration_number: regno,
        pin,
        session_token: token,
        terminal_id: T.terminalId,
      });
      T.token = reply.token;
      store.setItem("seleksi.token", T.token);
      store.setItem("seleksi.regno", regno);
      const f = reply.formation;
      if (f) store.setItem("seleksi.formation", [f.position, f.agency, f.location].filter(Boolean).join(" · ") || f.code);
      T.stopped = false;
      connect();
    } catch (err) {
      $("login-error").textContent = S.errorText(err.code, err.data);
    } finally {
      $("login-submit").disabled = false;
      $("login-submit").textContent = S.t("login.submit");
    }
  });

  function logout(messageCode) {
    T.stopped = true;
    T.token = null;
    for (const key of ["seleksi.token", "seleksi.confirmed", "seleksi.outbox", "seleksi.formation"]) {
      store.removeItem(key);
    }
    T.outbox = [];
    if (T.ws) T.ws.close();
    banner(null);
    show("login");
    $("login-error").textContent = messageCode ? S.errorText(messageCode) : "";
  }

  // --- the connection -----------------------------------------------------------------

  function connect() {
    if (T.stopped || !T.token) return;
    const ws = new WebSocket(S.wsUrl("/ws/candidate"));
    T.ws = ws;
    T.ready = false;
    // A handshake that never completes counts as a lost connection too.
    setTimeout(() => {
      if (T.ws === ws && !T.ready) {
        lost();
        ws.close();
      }
    }, LIVENESS_MS);
    ws.onopen = () => {
      ws.send(JSON.stringify({ v: 1, type: "hello", token: T.token, terminal_id: T.terminalId }));
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      onFrame(msg);
    };
    ws.onclose = () => {
      if (T.ws === ws) lost();
    };
  }

  function lost() {
    T.ws = null;
    T.ready = false;
    T.wantNumber = null; // a navigation in flight is lost with the connection
    T.pendingChoice = null;
    refreshBanner();
    renderSaveState();
    if (T.stopped) return;
    // Back off 0.5 s, 1 s, 2 s … up to 5 s; a candidate never has to reload.
    const delay = Math.min(5000, 500 * 2 ** Math.min(T.retry, 4));
    T.retry += 1;
    setTimeout(connect, delay);
  }

  // A connection can die without closing (a pulled cable, a sleeping switch):
  // the terminal pings, and with no frame for LIVENESS_MS it gives the socket
  // up, shows that it is offline and reconnects.
  setInterval(() => {
    if (!T.ready || !T.ws) return;
    if (Date.now() - T.lastFrame > LIVENESS_MS) {
      const dead = T.ws;
      lost();
      try {
        dead.close();
      } catch (_) {
        /* already gone */
      }
      return;
    }
    send({ type: "ping", id: Date.now() % 1000000 });
  }, Math.max(500, Math.floor(LIVENESS_MS / 3)));

  function send(msg) {
    if (T.ws && T.ws.readyState === WebSocket.OPEN && T.ready) {
      T.ws.send(JSON.stringify({ v: 1, ...msg }));
      return true;
    }
    return false;
  }

  function flushOutbox() {
    for (const entry of T.outbox) send(entry);
  }

  function nextSeq() {
    const pending = T.outbox.length ? T.outbox[T.outbox.length - 1].seq : 0;
    return Math.max(T.lastAck, pending) + 1;
  }

  function enqueue(entry) {
    entry.seq = nextSeq();
    T.outbox.push(entry);
    saveOutbox();
    send(entry);
    renderSaveState();
  }

  // --- frames from the server ----------------------------------------------------------

  function onFrame(msg) {
    T.lastFrame = Date.now();
    if (typeof msg.server_time === "number") T.clock.sync(msg.server_time);
    switch (msg.type) {
      case "state":
        return onState(msg);
      case "item":
        return onItem(msg);
      case "ack":
        return onAck(msg);
      case "time":
        return onTime(msg);
      case "notice":
        return send({ type: "state" });
      case "final":
        return onFinal(msg);
      case "error":
        return onError(msg);
      default:
        return undefined;
    }
  }

  function onState(st) {
    T.st = st;
    T.ready = true;
    T.retry = 0;
    T.everConnected = true;
    T.lastAck = st.last_seq || 0;
    // Entries the server already has are done; the rest are renumbered from
    // the server's last seq (a refused entry may have left a gap) and resent.
    T.outbox = T.outbox.filter((e) => e.seq > T.lastAck);
    T.outbox.forEach((e, i) => (e.seq = T.lastAck + 1 + i));
    saveOutbox();
    onTime(st);
    for (const entry of st.map || []) {
      if (!T.outbox.some((e) => e.number === entry.number)) {
        if (!entry.answered) T.answers.delete(entry.number);
        else if (!T.answers.has(entry.number)) T.answers.set(entry.number, null);
        T.flags.set(entry.number, !!entry.flagged);
      }
    }
    $("who").textContent = (st.name || "") + " · " + (st.registration_number || "");
    if (st.status === "finished" || st.status === "void") {
      if (st.status === "void") return stopWith("attempt_void");
      if (st.final) return onFinal(st.final);
      return undefined; // the server follows with the final frame
    }
    // After a reconnect the candidate stays on the item they were looking at
    // (the server's "current" may be older); the server is told so.
    const stay = st.mode === "linear" && T.current !== null && st.current && st.current.number !== T.current;
    if (stay) T.wantNumber = T.current;
    if (st.current) onItem(st.current);
    if (stay) T.ws.send(JSON.stringify({ v: 1, type: "navigate", number: T.current }));
    if (!store.getItem("seleksi.confirmed")) showIdentity(st);
    else if (T.screen !== "test") show("test");
    flushOutbox();
    renderMap();
    renderSaveState();
    refreshBanner();
    return undefined;
  }

  function onTime(msg) {
    if ("deadline" in msg) T.deadline = msg.deadline;
    if ("clock_running" in msg) T.clockRunning = !!msg.clock_running;
    if (typeof msg.remaining_seconds === "number") {
      T.remaining = msg.remaining_seconds;
      T.remainingAt = T.clock.now();
    }
    if (msg.status) T.status = msg.status;
    renderOptionsEnabled();
    refreshBanner();
    tick();
  }

  function onItem(item) {
    T.items.set(item.number, item);
    // Adaptive tests grow item by item: the map gains each new one.
    if (T.st && !(T.st.map || []).some((e) => e.number === item.number)) {
      T.st.map = [...(T.st.map || []), { number: item.number, subtest: item.subtest, answered: false, flagged: false }];
    }
    const pending = T.outbox.filter((e) => e.number === item.number);
    const lastAnswer = [...pending].reverse().find((e) => e.type === "answer");
    const lastFlag = [...pending].reverse().find((e) => "flagged" in e && e.flagged !== undefined);
    T.answers.set(item.number, lastAnswer ? lastAnswer.option : item.answer);
    if (T.answers.get(item.number) < 0) T.answers.delete(item.number);
    T.flags.set(item.number, lastFlag ? lastFlag.flagged : !!item.flagged);
    const adaptive = T.st && T.st.mode === "adaptive";
    // Render the item the candidate is going to, a fresh copy of the one on
    // screen, or the first one; a late reply for an item already left is cached only.
    const wanted = T.wantNumber === null ? item.number === T.current : item.number === T.wantNumber;
    if (adaptive || T.current === null || wanted) {
      T.wantNumber = null;
      renderItem(item.number);
    }
    const queued = T.pendingChoice;
    if (queued !== null && queued.number === item.number) {
      T.pendingChoice = null;
      choose(queued.index, item.number);
    }
    renderMap();
  }

  function onAck(ack) {
    T.lastAck = Math.max(T.lastAck, ack.seq);
    T.outbox = T.outbox.filter((e) => e.seq > ack.seq);
    saveOutbox();
    renderSaveState();
  }

  function onFinal(final) {
    T.stopped = true;
    store.removeItem("seleksi.outbox");
    store.removeItem("seleksi.token");
    store.removeItem("seleksi.confirmed");
    T.outbox = [];
    banner(null);
    if (T.ws) T.ws.close();
    const rows = $("result-rows");
    rows.replaceChildren();
    let max = 0;
    for (const sec of final.sections || []) {
      max += sec.max_points || 0;
      rows.append(
        S.el(
          "tr",
          {},
          S.el("td", {}, sec.code),
          S.el("td", { class: "num" }, S.fmtPoints(sec.points)),
          S.el("td", { class: "num" }, S.fmtPoints(sec.max_points)),
          S.el("td", { class: "num" }, sec.n_answered === null || sec.n_answered === undefined ? "–" : sec.n_answered + " / " + sec.n_items)
        )
      );
    }
    $("result-total").textContent = S.fmtPoints(final.total);
    $("result-max").textContent = S.fmtPoints(max);
    const verdict = $("result-verdict");
    verdict.className = "verdict " + (final.passed === true ? "pass" : final.passed === false ? "fail" : "");
    verdict.textContent = S.t(final.passed === true ? "result.pass" : final.passed === false ? "result.fail" : "result.unknown");
    // The reason in the page's language: `pass_reasons` {id, en} (servers before it
    // sent only the English `pass_reason`, shown in English mode only).
    const reasons = final.pass_reasons || {};
    const why = reasons[S.lang] || (S.lang === "en" ? final.pass_reason : "") || "";
    $("result-why").textContent = why;
    const reasonKey = "result.reason." + final.reason;
    $("result-reason").textContent = S.t(reasonKey) === reasonKey ? "" : S.t(reasonKey);
    T.lastFinal = final;
    renderReceipt(final.receipt, T.token);
    show("result");
  }

  // --- the signed receipt (docs/results.md) ---------------------------------------------

  /** Show the receipt of the final frame ({code, short}); the QR code is drawn by
   * the server (GET /api/candidate/receipt) and shown as an image, never as markup
   * in this page. `token`: the candidate token of the finished attempt. */
  function renderReceipt(receipt, token) {
    const box = $("receipt");
    box.classList.toggle("hidden", !receipt);
    if (!receipt) return;
    $("receipt-short").textContent = receipt.short;
    $("receipt-code").value = receipt.code;
    $("receipt-copied").textContent = "";
    const qr = $("receipt-qr");
    qr.alt = S.t("receipt.qrAlt", { short: receipt.short });
    const cached = T.receiptQr && T.receiptQr.code === receipt.code ? T.receiptQr : null;
    showQr(cached);
    if (cached || !token) return;
    S.api("GET", "/api/candidate/receipt", undefined, token).then(
      (reply) => {
        // A late answer for an earlier receipt is dropped.
        if (!reply || reply.code !== receipt.code || typeof reply.qr_svg !== "string") return;
        if (!T.lastFinal || !T.lastFinal.receipt || T.lastFinal.receipt.code !== receipt.code) return;
        T.receiptQr = { code: receipt.code, src: svgDataUrl(reply.qr_svg) };
        showQr(T.receiptQr);
      },
      // The short and full codes are the receipt; the QR only saves typing.
      () => showQr(null, true)
    );
  }

  function showQr(entry, failed) {
    const qr = $("receipt-qr");
    if (entry) qr.src = entry.src;
    else qr.removeAttribute("src");
    qr.classList.toggle("hidden", !entry);
    $("receipt-qr-missing").classList.toggle("hidden", !!entry || !failed);
  }

  /** The server's standalone SVG as a data: URL for an <img> (an image runs
   * no scripts and loads nothing). */
  function svgDataUrl(svg) {
    const bytes = new TextEncoder().encode(svg);
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    return "data:image/svg+xml;base64," + btoa(binary);
  }

  $("receipt-code").addEventListener("focus", (ev) => ev.target.select());
  $("receipt-copy").addEventListener("click", async () => {
    const field = $("receipt-code");
    field.focus();
    field.select();
    let ok = false;
    try {
      await navigator.clipboard.writeText(field.value);
      ok = true;
    } catch (_) {
      // Plain http on a LAN has no clipboard API: the older command still works there.
      ok = document.execCommand && document.execCommand("copy");
    }
    $("receipt-copied").textContent = S.t(ok ? "receipt.copied" : "receipt.selectToCopy");
  });

  const FATAL = new Set(["terminal_locked", "replaced", "attempt_void", "bad_token", "expired_token", "wrong_terminal"]);
  const REFUSED = new Set([
    "attempt_paused",
    "not_presented",
    "already_answered",
    "not_current",
    "bad_option",
    "not_allowed",
    "bad_field",
    "time_up",
    "attempt_finished",
  ]);

  function onError(err) {
    if (FATAL.has(err.code)) {
      if (err.code === "bad_token" || err.code === "expired_token") return logout(err.code);
      return stopWith(err.code);
    }
    if (err.code === "session_closed") return stopWith(err.code);
    if (typeof err.ref === "number" && REFUSED.has(err.code)) {
      // The server did not take this entry: drop it and let the state frame
      // tell us the truth (renumbering what is still pending).
      T.outbox = T.outbox.filter((e) => e.seq !== err.ref);
      saveOutbox();
      send({ type: "state" });
    } else if (err.code === "out_of_order" || err.code === "attempt_finished" || err.code === "time_up") {
      send({ type: "state" });
    } else if (err.code === "unavailable") {
      setTimeout(flushOutbox, 1000);
    }
    return undefined;
  }

  function stopWith(code) {
    T.stopped = true;
    if (T.ws) T.ws.close();
    banner("offline", S.errorText(code));
    renderOptionsEnabled();
  }

  // --- identity --------------------------------------------------------------------------

  function showIdentity(st) {
    $("id-name").textContent = st.name || "–";
    $("id-regno").textContent = st.registration_number || "–";
    $("id-formation").textContent = st.formation || store.getItem("seleksi.formation") || "–";
    $("id-exam").textContent = st.exam || "–";
    $("id-items").textContent = st.n_items;
    $("id-time").textContent = S.fmtDuration(st.remaining_seconds);
    show("identity");
    $("identity-ok").focus();
  }

  $("identity-ok").addEventListener("click", () => {
    store.setItem("seleksi.confirmed", "1");
    // Full screen keeps other windows out of sight; leaving it is reported.
    if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(() => {});
    }
    show("test");
    T.shownAt = performance.now();
    renderMap();
    focusOption();
  });
  $("identity-wrong").addEventListener("click", () => logout(null));

  // --- the item -----------------------------------------------------------------------------

  function renderItem(number) {
    const item = T.items.get(number);
    if (!item) return;
    if (T.current !== number) {
      T.shownAt = performance.now();
      T.highlight = -1;
    }
    T.current = number;
    const n = T.st ? T.st.n_items : "?";
    $("item-number").textContent = S.t("test.item", { n: number }) + " " + S.t("test.of", { n });
    $("item-subtest").textContent = item.subtest || "";
    $("stem").textContent = item.stem;
    const list = $("options");
    list.replaceChildren();
    const chosen = T.answers.get(number);
    item.options.forEach((text, i) => {
      const btn = S.el(
        "button",
        {
          type: "button",
          class: "option" + (i === T.highlight ? " highlight" : ""),
          role: "radio",
          "aria-checked": chosen === i ? "true" : "false",
          dataset: { index: String(i) },
          onclick: () => choose(i),
        },
        S.el("span", { class: "letter", "aria-hidden": "true" }, LETTERS[i]),
        S.el("span", { class: "text" }, S.el("span", { class: "sr-only" }, LETTERS[i] + ". "), text)
      );
      list.append(S.el("li", {}, btn));
    });
    const adaptive = T.st && T.st.mode === "adaptive";
    $("prev").classList.toggle("hidden", adaptive);
    $("next").classList.toggle("hidden", adaptive);
    $("doubtful").classList.toggle("hidden", adaptive);
    $("prev").disabled = number <= 1;
    $("next").disabled = T.st && number >= T.st.n_items;
    $("doubtful").setAttribute("aria-pressed", T.flags.get(number) ? "true" : "false");
    renderOptionsEnabled();
    renderMap();
    renderSaveState();
  }

  function renderOptionsEnabled() {
    const frozen = T.stopped || T.status === "paused" || T.status === "finished" || timeLeft() <= 0;
    document.querySelectorAll("#options .option").forEach((b) => (b.disabled = frozen));
    for (const id of ["doubtful", "finish"]) $(id).disabled = frozen;
  }

  function choose(index, onNumber) {
    if (T.status === "paused" || T.stopped || timeLeft() <= 0) return;
    if (onNumber === undefined && T.wantNumber !== null) {
      // On the way to another item: the key belongs to that one, once it is here.
      T.pendingChoice = { number: T.wantNumber, index };
      return;
    }
    const number = onNumber === undefined ? T.current : onNumber;
    const item = T.items.get(number);
    if (!item || index < 0 || index >= item.options.length) return;
    const adaptive = T.st && T.st.mode === "adaptive";
    if (adaptive && T.outbox.some((e) => e.number === number)) return; // once, in adaptive mode
    const elapsed = Math.min(86400, (performance.now() - T.shownAt) / 1000);
    T.answers.set(number, index);
    if (number === T.current) T.highlight = index;
    const entry = { type: "answer", number, option: index, elapsed: Math.round(elapsed * 10) / 10 };
    if (!adaptive) entry.flagged = !!T.flags.get(number);
    enqueue(entry);
    if (number === T.current) renderItem(number);
    else renderMap();
  }

  function toggleDoubtful() {
    const number = T.current;
    if (number === null || (T.st && T.st.mode === "adaptive")) return;
    const flagged = !T.flags.get(number);
    T.flags.set(number, flagged);
    enqueue({ type: "flag", number, flagged });
    $("doubtful").setAttribute("aria-pressed", flagged ? "true" : "false");
    renderMap();
  }

  function go(number) {
    if (!T.st || number < 1 || number > T.st.n_items || T.st.mode === "adaptive") return;
    if (T.items.has(number)) renderItem(number);
    // Until the item arrives, keys act on where the candidate is going.
    if (send({ type: "navigate", number }) && !T.items.has(number)) T.wantNumber = number;
    focusOption();
  }

  function headingTo() {
    return T.wantNumber !== null ? T.wantNumber : T.current;
  }

  function focusOption() {
    const btn = document.querySelector("#options .option[aria-checked='true']") || document.querySelector("#options .option");
    if (btn && T.screen === "test") btn.focus({ preventScroll: true });
  }

  $("prev").addEventListener("click", () => go(headingTo() - 1));
  $("next").addEventListener("click", () => go(headingTo() + 1));
  $("doubtful").addEventListener("click", toggleDoubtful);

  // --- the map ---------------------------------------------------------------------------------

  function renderMap() {
    if (!T.st) return;
    const map = $("map");
    map.replaceChildren();
    let section = null;
    let grid = null;
    let answered = 0;
    for (const entry of T.st.map || []) {
      if (entry.subtest !== section) {
        section = entry.subtest;
        map.append(S.el("div", { class: "map-section" }, section));
        grid = S.el("div", { class: "map" });
        map.append(grid);
      }
      const n = entry.number;
      const isAnswered = T.answers.has(n);
      const isDoubtful = !!T.flags.get(n);
      if (isAnswered) answered += 1;
      const state = isDoubtful ? "doubtful" : isAnswered ? "answered" : "unanswered";
      const label = n + " – " + S.t("test.legend." + state) + (n === T.current ? ", " + S.t("test.legend.current") : "");
      grid.append(
        S.el(
          "button",
          {
            type: "button",
            class: [isAnswered ? "answered" : "", isDoubtful ? "doubtful" : "", n === T.current ? "current" : ""].join(" "),
            "aria-label": label,
            "aria-current": n === T.current ? "true" : null,
            disabled: T.st.mode === "adaptive" ? true : null,
            onclick: () => go(n),
          },
          String(n)
        )
      );
    }
    $("progress").textContent = S.t("test.progress", { a: answered, n: T.st.n_items });
  }

  function renderSaveState() {
    const el = $("save-state");
    const pending = T.outbox.length;
    if (!pending) el.textContent = T.answers.has(T.current) ? S.t("test.saved") : "";
    else if (T.ready) el.textContent = S.t("test.saving");
    else el.textContent = S.t("test.unsaved", { n: pending });
  }

  // --- the countdown (always from the server's deadline) ---------------------------------------

  function timeLeft() {
    if (T.clockRunning && typeof T.deadline === "number") return T.clock.until(T.deadline);
    return T.remaining === null ? Infinity : T.remaining;
  }

  function tick() {
    const left = timeLeft();
    const el = $("countdown");
    if (left === Infinity) {
      el.textContent = "--:--";
      return;
    }
    el.textContent = left <= 0 ? S.t("test.timeUp") : S.fmtDuration(left);
    el.classList.toggle("low", left < 300);
    el.title = T.clockRunning ? "" : S.t("test.clockStopped");
    if (left <= 0 && !T.timeUpShown) {
      T.timeUpShown = true;
      renderOptionsEnabled();
      send({ type: "state" });
    }
  }
  setInterval(tick, 250);

  // --- finish -----------------------------------------------------------------------------------

  function listNumbers(numbers) {
    return numbers.length > 30 ? numbers.slice(0, 30).join(", ") + ", …" : numbers.join(", ");
  }

  $("finish").addEventListener("click", () => {
    const all = (T.st.map || []).map((e) => e.number);
    const unanswered = all.filter((n) => !T.answers.has(n));
    const doubtful = all.filter((n) => T.flags.get(n));
    $("finish-unanswered").textContent = unanswered.length
      ? S.t("finish.unanswered", { n: unanswered.length, list: listNumbers(unanswered) })
      : S.t("finish.allDone");
    $("finish-doubtful").textContent = doubtful.length
      ? S.t("finish.doubtful", { n: doubtful.length, list: listNumbers(doubtful) })
      : "";
    $("finish-dialog").showModal();
    $("finish-cancel").focus();
  });
  $("finish-cancel").addEventListener("click", () => $("finish-dialog").close());
  $("finish-confirm").addEventListener("click", () => {
    $("finish-dialog").close();
    // Pending answers go first: the server handles frames in order.
    flushOutbox();
    send({ type: "finish", confirm: true });
  });

  // --- keyboard ---------------------------------------------------------------------------------

  document.addEventListener("keydown", (ev) => {
    if (T.screen !== "test" || $("finish-dialog").open) return;
    if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
    const target = ev.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) return;
    const item = T.items.get(T.current);
    if (!item) return;
    const key = ev.key;
    const letter = key.length === 1 ? LETTERS.indexOf(key.toUpperCase()) : -1;
    if (letter >= 0 && letter < item.options.length) {
      ev.preventDefault();
      choose(letter);
      focusOption();
    } else if (key === "ArrowDown" || key === "ArrowUp") {
      ev.preventDefault();
      const n = item.options.length;
      const start = T.highlight >= 0 ? T.highlight : T.answers.has(T.current) ? T.answers.get(T.current) : -1;
      T.highlight = key === "ArrowDown" ? (start + 1) % n : (start - 1 + n) % n;
      document.querySelectorAll("#options .option").forEach((b, i) => {
        b.classList.toggle("highlight", i === T.highlight);
        if (i === T.highlight) b.focus({ preventScroll: false });
      });
    } else if (key === "Enter") {
      const onOption = target && target.classList && target.classList.contains("option");
      if (onOption || target === document.body) {
        ev.preventDefault();
        const index = onOption ? Number(target.dataset.index) : T.highlight;
        if (index >= 0) choose(index);
        focusOption();
      }
    } else if (key === "ArrowRight") {
      ev.preventDefault();
      go(headingTo() + 1);
    } else if (key === "ArrowLeft") {
      ev.preventDefault();
      go(headingTo() - 1);
    }
  });

  // --- focus and full screen reports (for the proctor's alerts) ------------------------------------

  function report(kind) {
    if (!T.token || T.stopped || T.screen !== "test") return;
    const now = Date.now();
    if (now - T.lastReport < 2000) return; // one report per burst of window switching
    T.lastReport = now;
    fetch("/api/candidate/report", {
      method: "POST",
      keepalive: true,
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + T.token },
      body: JSON.stringify({ kind }),
    }).catch(() => {});
  }
  window.addEventListener("blur", () => report("focus_lost"));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") report("focus_lost");
  });
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement) report("fullscreen_exit");
  });

  document.addEventListener("seleksi:lang", () => {
    if (T.current !== null) renderItem(T.current);
    renderMap();
    renderSaveState();
    refreshBanner();
    if (T.lastFinal && T.screen === "result") onFinal(T.lastFinal);
  });

  // Test hook: the browser tests read the terminal's view of the outbox.
  window.SeleksiTerminal = T;

  document.addEventListener("DOMContentLoaded", () => {
    if (T.token) {
      show(null); // reconnecting after a reload: the state frame picks the screen
      T.everConnected = true;
      connect();
    } else show("login");
  });
})();
