// Seleksi candidate terminal: login, identity check, one item per screen, the
// numbered map, "ragu-ragu", the server's countdown, offline queue with
// automatic reconnect, the finish dialog and the final score.
//
// The wire protocol is docs/protocol.md (version 1). Answers and flags are
// queued in an outbox (kept in sessionStorage, so even a reload keeps them)
// and removed only when the server acknowledges their seq: a selection is
// never shown as saved before it is durable. A service worker
// (terminal-sw.js) keeps this page's files, so a reload while the server is
// down shows the reconnecting screen instead of the browser's error page.
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
    for (const name of ["login", "identity", "reconnect", "test", "ended", "result"]) {
      $("screen-" + name).classList.toggle("hidden", name !== screen);
    }
    $("clock-wrap").classList.toggle("hidden", screen !== "test" && screen !== "identity");
    $("skip-options").classList.toggle("hidden", screen !== "test");
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
        // The terminal's pass, if a technician entered one (js/terminal-pass.js):
        // this terminal's wrong logins then count against it, not the room's address.
        terminal_pass: localStorage.getItem("seleksi.terminalPass") || undefined,
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
    forgetAttempt();
    if (T.ws) T.ws.close();
    banner(null);
    show("login");
    $("login-error").textContent = messageCode ? S.errorText(messageCode) : "";
  }

  /** The next person at this terminal sees nothing of the last attempt. */
  function forgetAttempt() {
    T.st = null;
    T.items.clear();
    T.answers.clear();
    T.flags.clear();
    T.current = null;
    T.ended = null;
    T.mapKey = null;
    $("who").textContent = "";
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
    renderReconnect();
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
      const pending = T.outbox.filter((e) => e.number === entry.number);
      const lastAnswer = [...pending].reverse().find((e) => e.type === "answer");
      const lastFlag = [...pending].reverse().find((e) => "flagged" in e && e.flagged !== undefined);
      // What is still waiting in the outbox wins (also after a reload, when
      // this page knows it only from the outbox); the rest is the server's.
      if (lastAnswer && lastAnswer.option >= 0) T.answers.set(entry.number, lastAnswer.option);
      else if (lastAnswer || !entry.answered) T.answers.delete(entry.number);
      else if (!T.answers.has(entry.number)) T.answers.set(entry.number, null);
      T.flags.set(entry.number, lastFlag ? !!lastFlag.flagged : !!entry.flagged);
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
    const shown = final.shown || {};
    for (const sec of final.sections || []) {
      max += sec.max_points || 0;
      rows.append(
        S.el(
          "tr",
          {},
          S.el("td", {}, sec.code),
          S.el("td", { class: "num" }, shownPoints(shown[sec.code], sec.points)),
          S.el("td", { class: "num" }, shownPoints(null, sec.max_points)),
          S.el("td", { class: "num" }, answeredOf(sec))
        )
      );
    }
    $("result-total").textContent = shownPoints(shown.total, final.total);
    $("result-max").textContent = shownPoints(null, max);
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
    // The optional survey (js/terminal-survey.js) asks with this attempt's token.
    document.dispatchEvent(new CustomEvent("seleksi:final", { detail: { token: T.token } }));
  }

  /** "answered / items" of a section of the final frame; an adaptive test
   * counts against the section's length, as its progress panel did (the
   * frame's n_items is the number of items shown). */
  function answeredOf(sec) {
    if (sec.n_answered === null || sec.n_answered === undefined) return "–";
    const planned = T.st && T.st.mode === "adaptive" ? (T.st.sections || []).find((s) => s.code === sec.code) : null;
    return sec.n_answered + " / " + (planned ? planned.n_items : sec.n_items);
  }

  /** Points as the results publication and the receipt print them: the
   * server's text (`final.shown`, the exam policy's rounding) when it sends
   * one; else the number to at most 3 decimals without trailing zeros (a
   * maximum of 149.99999999 on the adaptive reference scale shows as 150). */
  function shownPoints(text, value) {
    if (typeof text === "string" && text) return text;
    if (typeof value !== "number" || !isFinite(value)) return "–";
    return String(Math.round(value * 1000) / 1000);
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

  // This terminal's part is over: the test moved to another terminal (a proctor
  // released this one, or a newer connection took the attempt over).
  const MOVED = new Set(["replaced", "wrong_terminal", "terminal_locked"]);

  function stopWith(code) {
    T.stopped = true;
    if (T.ws) T.ws.close();
    renderOptionsEnabled();
    if (code === "attempt_void") return showEnded("void");
    if (MOVED.has(code)) return showEnded("moved");
    banner("offline", S.errorText(code));
    return undefined;
  }

  /** The final screen after a void or a release: no item, no map, no clock.
   * Only the decision in the page's words, never the proctor's free text
   * (the server's message is not shown). `kind`: "void" or "moved". */
  function showEnded(kind) {
    // Answers still waiting can no longer be stored from this terminal.
    const unsaved = T.outbox.filter((e) => e.type === "answer").length;
    for (const key of ["seleksi.token", "seleksi.confirmed", "seleksi.outbox", "seleksi.formation"]) {
      store.removeItem(key);
    }
    T.token = null;
    T.outbox = [];
    if ($("finish-dialog").open) $("finish-dialog").close();
    banner(null);
    T.ended = { kind, unsaved };
    renderEnded();
    show("ended");
    $("ended-title").focus();
    return undefined;
  }

  function renderEnded() {
    if (!T.ended) return;
    const kind = T.ended.kind;
    $("ended-title").textContent = S.t("ended." + kind + ".title");
    $("ended-body").textContent = S.t("ended." + kind + ".body");
    $("ended-next").textContent = S.t("ended." + kind + ".next");
    const unsaved = $("ended-unsaved");
    unsaved.textContent = kind === "moved" && T.ended.unsaved ? S.t("ended.unsaved", { n: T.ended.unsaved }) : "";
    unsaved.classList.toggle("hidden", !unsaved.textContent);
    $("ended-login").classList.toggle("hidden", kind !== "moved");
    $("screen-ended").classList.toggle("void", kind === "void");
  }

  $("ended-login").addEventListener("click", () => logout(null));

  function renderReconnect() {
    if (T.screen !== "reconnect") return;
    const n = T.outbox.filter((e) => e.type === "answer").length;
    $("reconnect-pending").textContent = n ? S.t("reconnect.pending", { n }) : S.t("reconnect.none");
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

  // HTML items (QTI imports) arrive as a fragment the server sanitised, with
  // their pictures as data: URIs (item_bank.html.inline_media). The page still
  // never sets innerHTML from the network: DOMParser builds an inert document
  // (nothing in it runs or loads) and only the allowed elements and attributes
  // are copied out of it, the same list the server keeps.
  const RICH_TAGS = new Set([
    "p", "br", "div", "span", "strong", "em", "b", "i", "sub", "sup", "code", "pre",
    "blockquote", "ul", "ol", "li", "table", "caption", "thead", "tbody", "tfoot", "tr",
    "th", "td", "img", "hr",
  ]);
  const RICH_ATTRS = { img: ["src", "alt"], td: ["colspan", "rowspan"], th: ["colspan", "rowspan"] };
  const RICH_DROPPED = new Set(["script", "style", "iframe", "object", "embed", "noscript", "template", "math", "svg"]);
  const DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/;

  function richContent(html) {
    const doc = new DOMParser().parseFromString("<!doctype html><body>" + html, "text/html");
    const out = document.createDocumentFragment();
    const copy = (from, to) => {
      for (const node of from.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) {
          to.append(node.textContent);
        } else if (node.nodeType === Node.ELEMENT_NODE) {
          const tag = node.localName;
          if (!RICH_TAGS.has(tag)) {
            if (!RICH_DROPPED.has(tag)) copy(node, to); // unknown markup: keep its text
            continue;
          }
          const el = document.createElement(tag);
          for (const name of RICH_ATTRS[tag] || []) {
            const value = node.getAttribute(name);
            if (value === null || (name === "src" && !DATA_IMAGE.test(value))) continue;
            el.setAttribute(name, value);
          }
          if (tag === "img" && !el.hasAttribute("alt")) el.setAttribute("alt", "");
          copy(node, el);
          to.append(el);
        }
      }
    };
    copy(doc.body, out);
    return out;
  }

  /** An item's stem or option as nodes: formatted for HTML items, else plain text. */
  function itemContent(item, text) {
    return item.stem_format === "html" ? richContent(text) : document.createTextNode(text);
  }

  function renderItem(number) {
    const item = T.items.get(number);
    if (!item) return;
    const sameItem = T.current === number;
    if (!sameItem) {
      T.shownAt = performance.now();
      T.highlight = -1;
    }
    T.current = number;
    const n = T.st ? T.st.n_items : "?";
    $("item-number").textContent = S.t("test.item", { n: number }) + " " + S.t("test.of", { n });
    $("item-subtest").textContent = item.subtest || "";
    $("stem").replaceChildren(itemContent(item, item.stem));
    $("stem").classList.toggle("rich", item.stem_format === "html");
    const list = $("options");
    // Focus stays where the person is: on the options if it was there.
    const focused = list.contains(document.activeElement) ? Number(document.activeElement.dataset.index) : null;
    list.replaceChildren();
    const chosen = T.answers.get(number);
    // One Tab stop for the whole group (roving tabindex): the highlighted,
    // else the chosen, else the first option.
    const stop = T.highlight >= 0 ? T.highlight : typeof chosen === "number" && chosen >= 0 ? chosen : 0;
    item.options.forEach((text, i) => {
      list.append(
        S.el(
          "button",
          {
            type: "button",
            class: "option" + (i === T.highlight ? " highlight" : ""),
            role: "radio",
            "aria-checked": chosen === i ? "true" : "false",
            tabindex: i === stop ? "0" : "-1",
            dataset: { index: String(i) },
            onclick: () => choose(i),
          },
          S.el("span", { class: "letter", "aria-hidden": "true" }, LETTERS[i]),
          S.el("span", { class: "text" }, S.el("span", { class: "sr-only" }, LETTERS[i] + ". "), itemContent(item, text))
        )
      );
    });
    if (focused !== null) {
      const again = list.children[Math.min(focused, list.children.length - 1)];
      const target = sameItem && again ? again : list.querySelector('[tabindex="0"]');
      if (target) target.focus({ preventScroll: true });
    }
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
    // Focus stays where the person is (the map, a button, the options); only
    // a page with no focus at all hands it to the options.
    if (!document.activeElement || document.activeElement === document.body) focusOption();
  }

  function headingTo() {
    return T.wantNumber !== null ? T.wantNumber : T.current;
  }

  function focusOption() {
    const btn =
      document.querySelector("#options .option[tabindex='0']") ||
      document.querySelector("#options .option[aria-checked='true']") ||
      document.querySelector("#options .option");
    if (btn && T.screen === "test") btn.focus({ preventScroll: true });
  }

  // The skip link lands on the answer options (the group's one Tab stop).
  $("skip-options").addEventListener("click", (ev) => {
    ev.preventDefault();
    focusOption();
  });

  $("prev").addEventListener("click", () => go(headingTo() - 1));
  $("next").addEventListener("click", () => go(headingTo() + 1));
  $("doubtful").addEventListener("click", toggleDoubtful);

  // --- the map ---------------------------------------------------------------------------------

  function renderMap() {
    if (!T.st) return;
    const adaptive = T.st.mode === "adaptive";
    const entries = T.st.map || [];
    const answered = entries.filter((e) => T.answers.has(e.number)).length;
    $("progress").textContent = S.t("test.progress", { a: answered, n: T.st.n_items });
    $("map").classList.toggle("hidden", adaptive);
    $("legend").classList.toggle("hidden", adaptive);
    $("sections-progress").classList.toggle("hidden", !adaptive);
    setText($("map-title"), adaptive ? "test.sections" : "test.map");
    setText($("keys-help"), adaptive ? "test.keysAdaptive" : "test.keys");
    if (adaptive) renderSections(entries);
    else renderNumbers(entries);
  }

  /** Text by key that the language switch translates again. */
  function setText(el, key) {
    if (el.dataset.i18n === key && el.textContent) return;
    el.dataset.i18n = key;
    el.textContent = S.t(key);
  }

  /** Linear tests: the numbered map. Built once, then updated in place, so a
   * number that has keyboard focus keeps it; one Tab stop for the whole map
   * (roving tabindex: the focused number, else the item on screen). */
  function renderNumbers(entries) {
    const map = $("map");
    const key = entries.map((e) => e.number + e.subtest).join(",");
    if (T.mapKey !== key) {
      T.mapKey = key;
      map.replaceChildren();
      let section = null;
      let grid = null;
      for (const entry of entries) {
        if (entry.subtest !== section) {
          section = entry.subtest;
          map.append(S.el("div", { class: "map-section", "aria-hidden": "true" }, section));
          grid = S.el("div", { class: "map", role: "group", "aria-label": section });
          map.append(grid);
        }
        const n = entry.number;
        grid.append(
          S.el("button", { type: "button", dataset: { number: String(n) }, onclick: () => go(n) }, String(n))
        );
      }
    }
    const inMap = map.contains(document.activeElement) ? Number(document.activeElement.dataset.number) : null;
    const stop = inMap !== null ? inMap : T.current;
    for (const btn of map.querySelectorAll("button")) {
      const n = Number(btn.dataset.number);
      const isAnswered = T.answers.has(n);
      const isDoubtful = !!T.flags.get(n);
      const isCurrent = n === T.current;
      const state = isDoubtful ? "doubtful" : isAnswered ? "answered" : "unanswered";
      btn.className = [isAnswered ? "answered" : "", isDoubtful ? "doubtful" : "", isCurrent ? "current" : ""].join(" ").trim();
      btn.setAttribute(
        "aria-label",
        n + " – " + S.t("test.legend." + state) + (isCurrent ? ", " + S.t("test.legend.current") : "")
      );
      if (isCurrent) btn.setAttribute("aria-current", "true");
      else btn.removeAttribute("aria-current");
      btn.tabIndex = n === stop ? 0 : -1;
    }
    if (stop === null || !map.querySelector('button[tabindex="0"]')) {
      const first = map.querySelector("button");
      if (first) first.tabIndex = 0;
    }
  }

  /** Adaptive tests: no map to jump around in (there is no going back), only
   * how far each section is. Counts only items given so far and answered. */
  function renderSections(entries) {
    const box = $("sections-progress");
    const currentSection = T.current !== null && T.items.get(T.current) ? T.items.get(T.current).subtest : null;
    box.replaceChildren(
      ...(T.st.sections || []).map((sec) => {
        const done = entries.filter((e) => e.subtest === sec.code && T.answers.has(e.number)).length;
        const label = S.t("test.sectionProgress", { code: sec.code, a: done, n: sec.n_items });
        return S.el(
          "div",
          { class: "section-progress" + (sec.code === currentSection ? " current" : "") },
          S.el(
            "div",
            { class: "section-line" },
            S.el("span", { class: "section-code" }, sec.code),
            S.el("span", {}, S.t("test.sectionCount", { a: done, n: sec.n_items })),
            sec.code === currentSection ? S.el("span", { class: "section-now" }, S.t("test.sectionNow")) : null
          ),
          S.el("progress", { max: String(sec.n_items), value: String(done), "aria-label": label })
        );
      })
    );
  }

  /** Keyboard inside the map: arrows move along the numbers (↑/↓ by a row),
   * Home/End to the first/last; Enter or Space opens that item. */
  function mapKey(ev) {
    const buttons = [...$("map").querySelectorAll("button")];
    const at = buttons.indexOf(ev.target);
    if (at < 0) return false;
    const grid = ev.target.parentElement;
    const columns = getComputedStyle(grid).gridTemplateColumns.split(" ").length || 1;
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
    let to = null;
    if (ev.key in moves) to = Math.max(0, Math.min(buttons.length - 1, at + moves[ev.key]));
    else if (ev.key === "Home") to = 0;
    else if (ev.key === "End") to = buttons.length - 1;
    if (to === null) return false;
    ev.preventDefault();
    buttons.forEach((b, i) => (b.tabIndex = i === to ? 0 : -1));
    buttons[to].focus();
    return true;
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
    if (T.st.mode === "adaptive") {
      // The map holds only the items given so far: count against the whole
      // test, and name no "unanswered" numbers that were never shown.
      const answered = all.filter((n) => T.answers.has(n)).length;
      const left = Math.max(0, T.st.n_items - answered);
      $("finish-unanswered").textContent = S.t("finish.adaptive", { a: answered, n: T.st.n_items });
      $("finish-doubtful").textContent = left ? S.t("finish.adaptiveLeft", { n: left }) : "";
      $("finish-warn").textContent = S.t("finish.warnAdaptive");
      $("finish-warn").dataset.i18n = "finish.warnAdaptive";
    } else {
      const unanswered = all.filter((n) => !T.answers.has(n));
      const doubtful = all.filter((n) => T.flags.get(n));
      $("finish-unanswered").textContent = unanswered.length
        ? S.t("finish.unanswered", { n: unanswered.length, list: listNumbers(unanswered) })
        : S.t("finish.allDone");
      $("finish-doubtful").textContent = doubtful.length
        ? S.t("finish.doubtful", { n: doubtful.length, list: listNumbers(doubtful) })
        : "";
      $("finish-warn").dataset.i18n = "finish.warn";
      $("finish-warn").textContent = S.t("finish.warn");
    }
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
    if (target && $("map").contains(target) && mapKey(ev)) return;
    const item = T.items.get(T.current);
    if (!item) return;
    const key = ev.key;
    const letter = key.length === 1 ? LETTERS.indexOf(key.toUpperCase()) : -1;
    if (letter >= 0 && letter < item.options.length) {
      ev.preventDefault();
      choose(letter);
      // A key typed on the page itself leads into the options; elsewhere
      // (the map, a button) focus stays where the person is.
      if (target === document.body) focusOption();
    } else if (key === "ArrowDown" || key === "ArrowUp") {
      ev.preventDefault();
      const n = item.options.length;
      const start = T.highlight >= 0 ? T.highlight : T.answers.has(T.current) ? T.answers.get(T.current) : -1;
      T.highlight = key === "ArrowDown" ? (start + 1) % n : (start - 1 + n) % n;
      document.querySelectorAll("#options .option").forEach((b, i) => {
        b.classList.toggle("highlight", i === T.highlight);
        b.tabIndex = i === T.highlight ? 0 : -1;
        if (i === T.highlight) b.focus({ preventScroll: false });
      });
    } else if (key === "Enter") {
      const onOption = target && target.classList && target.classList.contains("option");
      if (onOption || target === document.body) {
        ev.preventDefault();
        const index = onOption ? Number(target.dataset.index) : T.highlight;
        if (index >= 0) choose(index);
        if (target === document.body) focusOption();
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
    renderEnded();
    renderReconnect();
  });

  // Test hook: the browser tests read the terminal's view of the outbox.
  window.SeleksiTerminal = T;
  T.richContent = richContent; // the HTML items' renderer, for its tests

  // The page's files for a reload while the server is down (secure contexts
  // only: https, or http on localhost/127.0.0.1; see terminal-sw.js).
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("terminal-sw.js", { scope: "terminal" }).catch(() => {});
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (T.token) {
      // Reconnecting after a reload (perhaps with the server down): the
      // state frame picks the screen; answers wait in the outbox meanwhile.
      show("reconnect");
      renderReconnect();
      T.everConnected = true;
      connect();
    } else show("login");
  });
})();
