// Seleksi admin pages: exams, sessions, candidate import, results — straight
// on the admin REST API (GET /api/openapi.json documents every call).
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const A = { token: store.getItem("seleksi.admin"), tab: "exams", sessions: [] };
  const TABS = ["exams", "sessions", "candidates", "results"];

  function call(method, path, body) {
    return S.api(method, path, body, A.token).catch((err) => {
      if (err.status === 401) logout();
      throw err;
    });
  }

  function errorLines(err) {
    const rows = (err.data && err.data.errors) || [];
    return rows.map((e) => (e.row ? "row " + e.row + ", " : "") + (e.field || "") + ": " + e.message);
  }

  function show(tab) {
    A.tab = tab;
    $("screen-login").classList.toggle("hidden", !!A.token);
    $("tabs").classList.toggle("hidden", !A.token);
    $("logout").classList.toggle("hidden", !A.token);
    for (const t of TABS) $("tab-" + t).classList.toggle("hidden", !A.token || t !== tab);
    document.querySelectorAll("#tabs button").forEach((b) => b.setAttribute("aria-pressed", b.dataset.tab === tab ? "true" : "false"));
    if (A.token) load(tab);
  }

  function logout() {
    store.removeItem("seleksi.admin");
    A.token = null;
    show(A.tab);
  }

  async function load(tab) {
    if (tab === "exams") {
      const exams = await call("GET", "/api/admin/exams");
      $("exam-rows").replaceChildren(
        ...exams.map((e) =>
          S.el("tr", {}, S.el("td", {}, e.id), S.el("td", {}, e.code), S.el("td", {}, e.name), S.el("td", { class: "num" }, e.n_items), S.el("td", {}, (e.design && e.design.mode) || ""))
        )
      );
    } else if (tab === "sessions" || tab === "results") {
      A.sessions = await call("GET", "/api/admin/sessions");
      if (tab === "sessions") renderSessions();
      else renderResultChooser();
    }
  }

  function renderSessions() {
    $("session-rows").replaceChildren(
      ...A.sessions.map((s) =>
        S.el(
          "tr",
          {},
          S.el("td", {}, s.id),
          S.el("td", {}, s.code),
          S.el("td", {}, s.status),
          S.el("td", { class: "num" }, s.candidates),
          S.el(
            "td",
            { class: "row-actions" },
            s.status === "scheduled"
              ? S.el("button", { type: "button", onclick: () => openSession(s.id) }, S.t("proctor.open"))
              : "",
            S.el("a", { class: "button", href: "proctor.html?session=" + s.id }, S.t("proctor.title")),
            S.el("a", { class: "button", href: "board.html?session=" + s.id }, S.t("board.title"))
          )
        )
      )
    );
  }

  async function openSession(id) {
    const reply = await call("POST", "/api/sessions/" + id + "/open", {});
    alert(S.t("proctor.token") + ": " + reply.token);
    load("sessions");
  }

  function renderResultChooser() {
    const select = $("result-session");
    const current = select.value;
    select.replaceChildren(...A.sessions.map((s) => S.el("option", { value: s.id }, s.code + " (" + s.status + ")")));
    if (current) select.value = current;
    loadResults();
  }

  async function loadResults() {
    const id = $("result-session").value;
    if (!id) return;
    const rows = await call("GET", "/api/admin/sessions/" + id + "/attempts");
    const codes = [];
    for (const r of rows) for (const s of (r.score && r.score.sections) || []) if (!codes.includes(s.code)) codes.push(s.code);
    $("result-head").replaceChildren(
      ...["No. peserta / Reg. no.", "Nama / Name", "Kategori / Category", "Status"].map((h) => S.el("th", {}, h)),
      ...codes.map((c) => S.el("th", { class: "num" }, c)),
      S.el("th", { class: "num" }, S.t("result.total")),
      S.el("th", {}, "P/TL")
    );
    $("result-rows").replaceChildren(
      ...rows.map((r) => {
        const points = Object.fromEntries(((r.score && r.score.sections) || []).map((s) => [s.code, s.points]));
        return S.el(
          "tr",
          {},
          S.el("td", {}, r.registration_number),
          S.el("td", {}, r.name),
          S.el("td", {}, r.category),
          S.el("td", {}, r.status),
          ...codes.map((c) => S.el("td", { class: "num" }, S.fmtPoints(points[c]))),
          S.el("td", { class: "num" }, S.fmtPoints(r.total)),
          S.el("td", { title: r.pass_reason || "" }, r.passed === true ? "P" : r.passed === false ? "TL" : "–")
        );
      })
    );
  }
  $("result-session").addEventListener("change", loadResults);

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    try {
      const reply = await S.api("POST", "/api/auth/login", { username: $("username").value.trim(), password: $("password").value });
      if (reply.role !== "admin") throw new S.ApiError(403, "forbidden", "admin only");
      A.token = reply.token;
      store.setItem("seleksi.admin", A.token);
      show("exams");
    } catch (err) {
      $("login-error").textContent = S.errorText(err.code);
    }
  });

  $("exam-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("exam-error").textContent = "";
    try {
      await call("POST", "/api/admin/exams", { code: $("exam-code").value.trim(), name: $("exam-name").value.trim(), design: $("exam-design").value });
      load("exams");
    } catch (err) {
      $("exam-error").textContent = err.message;
    }
  });

  $("session-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("session-error").textContent = "";
    try {
      await call("POST", "/api/admin/sessions", {
        code: $("session-code").value.trim(),
        exam_code: $("session-exam").value.trim(),
        site_code: $("session-site").value.trim(),
        room_code: $("session-room").value.trim(),
      });
      load("sessions");
    } catch (err) {
      $("session-error").textContent = err.message;
    }
  });

  $("csv-file").addEventListener("change", async () => {
    const file = $("csv-file").files[0];
    if (file) $("csv-text").value = await file.text();
  });

  $("import-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("import-error").textContent = "";
    $("import-errors").replaceChildren();
    $("import-result").textContent = "";
    try {
      const reply = await call("POST", "/api/admin/candidates/import", $("csv-text").value);
      $("import-result").textContent = S.t("admin.imported", { n: reply.imported });
    } catch (err) {
      $("import-error").textContent = err.message;
      $("import-errors").replaceChildren(...errorLines(err).map((line) => S.el("li", {}, line)));
    }
  });

  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
  $("logout").addEventListener("click", logout);
  document.addEventListener("DOMContentLoaded", () => show("exams"));
})();
