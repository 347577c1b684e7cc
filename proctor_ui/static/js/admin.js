// Seleksi admin pages: exams, sessions, candidate import, results — straight
// on the admin REST API (GET /api/openapi.json documents every call).
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const A = { token: store.getItem("seleksi.admin"), tab: "exams", sessions: [], exams: null, docsCode: null };
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
      A.exams = await call("GET", "/api/admin/exams");
      renderExams();
      if (A.docsCode) renderDocs(A.exams.find((e) => e.code === A.docsCode));
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
      // A staff login: username and password, not the candidate's PIN and token.
      const code = err.code === "bad_credentials" ? "bad_staff_credentials" : err.code;
      $("login-error").textContent = S.errorText(code, err.data);
    }
  });

  // --- exams and their documents (design, ranking policy, options) ------------------------

  /** The board options as the server stores them, in words. */
  function boardText(options) {
    const b = (options && options.board) || {};
    if (b.show_running === false) return S.t("admin.finalOnly");
    return S.t("admin.boardCadence", { n: b.batch_answers, s: b.min_interval_seconds });
  }

  function designText(design) {
    if (!design) return "–";
    return (design.name || "") + (design.mode ? " (" + design.mode + ")" : "");
  }

  function policyText(policy) {
    if (!policy) return "–";
    return (policy.name || "") + " · " + (policy.version || "");
  }

  function renderExams() {
    $("exam-rows").replaceChildren(
      ...A.exams.map((e) => {
        const warnings = e.warnings || [];
        return S.el(
          "tr",
          { dataset: { code: e.code } },
          S.el("td", {}, e.id),
          S.el("td", {}, e.code),
          S.el("td", {}, e.name),
          S.el("td", { class: "num" }, e.n_items),
          S.el("td", {}, designText(e.design)),
          S.el("td", {}, policyText(e.policy)),
          S.el(
            "td",
            {},
            boardText(e.options),
            warnings.length ? S.el("span", { class: "alert-badge critical warn-count" }, S.t("admin.warnCount", { n: warnings.length })) : ""
          ),
          S.el(
            "td",
            {},
            S.el("button", { type: "button", class: "small", "aria-label": S.t("admin.documents") + " " + e.code, onclick: () => openDocs(e.code) }, S.t("admin.documents"))
          )
        );
      })
    );
  }

  /** The server's warnings about settings that reveal single answers. */
  function renderWarnings(box, warnings) {
    const list = warnings || [];
    box.classList.toggle("hidden", list.length === 0);
    box.replaceChildren(
      ...(list.length ? [S.el("p", { class: "warn-head" }, S.t("admin.warn.head")), S.el("ul", {}, ...list.map((w) => S.el("li", {}, w)))] : [])
    );
  }

  /** Field errors of a failed request as lines, and the message (409 in words). */
  function showError(err, prefix) {
    const locked = err.status === 409 && prefix === "docs";
    $(prefix + "-error").textContent = locked ? S.t("admin.docsLocked") + " (" + err.message + ")" : err.message;
    $(prefix + "-errors").replaceChildren(...errorLines(err).map((line) => S.el("li", {}, line)));
  }

  function clearError(prefix) {
    $(prefix + "-error").textContent = "";
    $(prefix + "-errors").replaceChildren();
  }

  /** A chosen JSON file's content; throws an Error in the page's words. */
  async function readJsonFile(input) {
    const file = input.files && input.files[0];
    if (!file) throw new Error(S.t("admin.needFile"));
    try {
      return JSON.parse(await file.text());
    } catch (exc) {
      throw new Error(S.t("admin.badJson", { file: file.name, why: exc.message }));
    }
  }

  /** The board options of a form; empty number fields are left to the server's defaults. */
  function boardOptions(prefix) {
    const board = { show_running: $(prefix + "-show-running").checked };
    const batch = $(prefix + "-batch").value.trim();
    const interval = $(prefix + "-interval").value.trim();
    if (batch !== "") board.batch_answers = Number(batch);
    if (interval !== "") board.min_interval_seconds = Number(interval);
    return { board };
  }

  function toggleUpload(select, box) {
    $(box).classList.toggle("hidden", $(select).value !== "upload");
  }
  for (const [select, box] of [
    ["exam-design", "exam-design-upload"],
    ["exam-policy", "exam-policy-upload"],
    ["docs-policy", "docs-policy-upload"],
  ]) {
    $(select).addEventListener("change", () => toggleUpload(select, box));
  }

  $("exam-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("exam");
    $("exam-created").textContent = "";
    renderWarnings($("exam-warnings"), []);
    const code = $("exam-code").value.trim();
    const body = { code, name: $("exam-name").value.trim(), options: boardOptions("exam") };
    try {
      body.design = $("exam-design").value === "upload" ? await readJsonFile($("exam-design-file")) : $("exam-design").value;
      body.policy = $("exam-policy").value === "upload" ? await readJsonFile($("exam-policy-file")) : "2024";
    } catch (exc) {
      $("exam-error").textContent = exc.message;
      return;
    }
    try {
      const reply = await call("POST", "/api/admin/exams", body);
      $("exam-created").textContent = S.t("admin.created", { code, n: reply.n_items });
      renderWarnings($("exam-warnings"), reply.warnings);
      load("exams");
    } catch (err) {
      showError(err, "exam");
    }
  });

  function openDocs(code) {
    A.docsCode = code;
    $("docs-policy").value = "keep";
    toggleUpload("docs-policy", "docs-policy-upload");
    $("docs-saved").textContent = "";
    clearError("docs");
    const exam = (A.exams || []).find((e) => e.code === code);
    renderDocs(exam, true);
    $("docs-title").focus();
  }

  /** Show an exam's documents; `fill`: also put its options in the form. */
  function renderDocs(exam, fill) {
    const box = $("exam-docs");
    box.classList.toggle("hidden", !exam);
    if (!exam) return;
    $("docs-title").textContent = S.t("admin.docsTitle", { code: exam.code });
    $("docs-title").setAttribute("tabindex", "-1");
    $("docs-design").textContent = designText(exam.design);
    $("docs-policy-name").textContent = policyText(exam.policy);
    $("docs-board").textContent = boardText(exam.options);
    $("docs-sha").replaceChildren(
      ...["design", "policy", "options"].map((name) => S.el("div", {}, name + ": ", S.el("code", {}, exam[name + "_sha256"] || "–")))
    );
    $("docs-policy-json").textContent = JSON.stringify(exam.policy, null, 2);
    renderWarnings($("docs-warnings"), exam.warnings);
    if (fill) {
      const b = (exam.options && exam.options.board) || {};
      $("docs-show-running").checked = b.show_running !== false;
      $("docs-batch").value = b.batch_answers ?? "";
      $("docs-interval").value = b.min_interval_seconds ?? "";
    }
  }

  $("docs-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("docs");
    $("docs-saved").textContent = "";
    const code = A.docsCode;
    const body = { options: boardOptions("docs") };
    try {
      const choice = $("docs-policy").value;
      if (choice === "2024") body.policy = "2024";
      else if (choice === "upload") body.policy = await readJsonFile($("docs-policy-file"));
    } catch (exc) {
      $("docs-error").textContent = exc.message;
      return;
    }
    try {
      const reply = await call("PUT", "/api/admin/exams/" + encodeURIComponent(code) + "/documents", body);
      $("docs-saved").textContent = S.t("admin.docsSaved");
      const exam = (A.exams || []).find((e) => e.code === code);
      if (exam) Object.assign(exam, reply);
      renderExams();
      renderDocs(exam);
    } catch (err) {
      showError(err, "docs");
    }
  });

  $("docs-close").addEventListener("click", () => {
    A.docsCode = null;
    $("exam-docs").classList.add("hidden");
  });

  document.addEventListener("seleksi:lang", () => {
    if (A.tab === "exams" && A.exams) {
      renderExams();
      renderDocs((A.exams || []).find((e) => e.code === A.docsCode));
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
