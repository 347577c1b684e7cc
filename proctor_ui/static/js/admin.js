// Seleksi admin pages: exams, sessions, candidate import, results — straight
// on the admin REST API (GET /api/openapi.json documents every call).
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const A = { tab: "exams", sessions: [], exams: null, docsCode: null, sites: [], staff: [], formations: [] };
  // Tabs are the nav's buttons, so a page part added later (the item bank)
  // only needs its button, its <main id="tab-…"> and SeleksiAdmin.onTab.
  const TABS = () => [...document.querySelectorAll("#tabs button[data-tab]")].map((b) => b.dataset.tab);
  const loaders = {};

  const staff = S.staffSession({
    storageKey: "seleksi.admin",
    roles: ["admin"],
    refused: "admin_only",
    screens: { login: "screen-login", main: ["tabs"] },
    onLogin: () => show("exams"),
    onLogout: () => show(A.tab),
  });
  const call = staff.call;

  // The server's messages about a row or a field, in the reader's language
  // where the message is one the server is known to give (else as it came).
  const MESSAGES = [
    [/^missing column$/, "imp.missingColumn"],
    [/^unknown column$/, "imp.unknownColumn"],
    [/^more cells than columns$/, "imp.moreCells"],
    [/^3–40 letters, digits/, "imp.badRegno"],
    [/^(.+) appears twice in the file$/, "imp.twice"],
    [/^(.+) is already registered$/, "imp.registered"],
    [/^required, at most 200 characters$/, "imp.nameRequired"],
    [/^no formation '(.*)'$/, "imp.noFormation"],
    [/^no session '(.*)'$/, "imp.noSession"],
    [/^must be one of: (.*)$/, "imp.category"],
    [/^use YYYY-MM-DD$/, "imp.date"],
    [/^no data$/, "imp.noData"],
    [/^not UTF-8$/, "imp.utf8"],
    [/^invalid code$/, "imp.badCode"],
    [/^formation (.+) exists$/, "imp.formationExists"],
    [/^must be a positive integer$/, "imp.positive"],
    [/^no room (\d+)$/, "imp.noRoom"],
  ];

  function messageText(message) {
    for (const [re, key] of MESSAGES) {
      const m = re.exec(message || "");
      if (m) return S.t(key, { x: m[1] === undefined ? "" : m[1] });
    }
    return message;
  }

  function errorLines(err) {
    const rows = (err.data && err.data.errors) || [];
    return rows.map((e) => {
      const where = e.row ? S.t("imp.row", { row: e.row, field: e.field || "-" }) : e.field ? e.field + ": " : "";
      return where + messageText(e.message);
    });
  }

  /** A failed request in words: the known codes translated, the server's message after. */
  function failText(err) {
    const known = S.errorText(err.code);
    if (err.code === "conflict") return S.t("err.conflict") + " (" + err.message + ")";
    if (err.code === "invalid" || err.code === "bad_field") return S.t("err.invalid");
    return known;
  }

  function show(tab) {
    A.tab = tab;
    staff.show();
    for (const t of TABS()) {
      const main = $("tab-" + t);
      if (main) main.classList.toggle("hidden", !staff.token || t !== tab);
    }
    document.querySelectorAll("#tabs button").forEach((b) => b.setAttribute("aria-pressed", b.dataset.tab === tab ? "true" : "false"));
    if (staff.token) load(tab).catch((err) => console.warn("admin: could not load", tab, err));
  }

  async function load(tab) {
    if (loaders[tab]) return loaders[tab](call);
    if (tab === "exams") {
      A.exams = await call("GET", "/api/admin/exams");
      renderExams();
      if (A.docsCode) renderDocs(A.exams.find((e) => e.code === A.docsCode));
    } else if (tab === "rooms") {
      A.sites = await call("GET", "/api/admin/sites");
      renderRooms();
    } else if (tab === "staff") {
      [A.staff, A.sites] = await Promise.all([call("GET", "/api/admin/staff"), call("GET", "/api/admin/sites")]);
      renderStaff();
    } else if (tab === "formations") {
      A.formations = await call("GET", "/api/admin/formations");
      renderFormations();
    } else if (tab === "sessions") {
      [A.sessions, A.exams, A.sites] = await Promise.all([
        call("GET", "/api/admin/sessions"),
        call("GET", "/api/admin/exams"),
        call("GET", "/api/admin/sites"),
      ]);
      renderSessions();
    } else if (tab === "results") {
      [A.sessions, A.exams] = await Promise.all([call("GET", "/api/admin/sessions"), call("GET", "/api/admin/exams")]);
      renderResultChooser();
      loadPublication();
    }
    return undefined;
  }

  function rooms() {
    return A.sites.flatMap((site) => site.rooms.map((r) => ({ ...r, site })));
  }

  function roomLabel(id) {
    const r = rooms().find((x) => x.id === id);
    return r ? r.site.code + " / " + r.code + " · " + r.name : "#" + id;
  }

  function done(id, text) {
    $(id).textContent = text;
  }

  // --- sites and rooms ------------------------------------------------------------------------

  function renderRooms() {
    const rows = [];
    for (const site of A.sites) {
      if (!site.rooms.length) rows.push(S.el("tr", {}, S.el("td", {}, site.code + " · " + site.name), S.el("td", {}, "–"), S.el("td", {}), S.el("td", {}), S.el("td", {})));
      for (const r of site.rooms) {
        rows.push(
          S.el(
            "tr",
            { dataset: { room: r.code } },
            S.el("td", {}, site.code + " · " + site.name),
            S.el("td", {}, r.code),
            S.el("td", {}, r.name),
            S.el("td", { class: "num" }, r.capacity),
            S.el("td", {}, r.id)
          )
        );
      }
    }
    $("room-rows").replaceChildren(...rows);
    const keep = $("room-site").value;
    $("room-site").replaceChildren(...A.sites.map((site) => S.el("option", { value: site.code }, site.code + " · " + site.name)));
    if (keep) $("room-site").value = keep;
  }

  $("site-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("site-error").textContent = "";
    done("site-done", "");
    const code = $("site-code").value.trim();
    try {
      await call("POST", "/api/admin/sites", { code, name: $("site-name").value.trim() });
      done("site-done", S.t("admin.siteCreated", { code }));
      await load("rooms");
      $("room-site").value = code;
    } catch (err) {
      $("site-error").textContent = failText(err);
    }
  });

  $("room-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("room-error").textContent = "";
    done("room-done", "");
    const code = $("room-code").value.trim();
    try {
      await call("POST", "/api/admin/rooms", {
        site_code: $("room-site").value,
        code,
        name: $("room-name").value.trim(),
        capacity: Number($("room-capacity").value || 0),
      });
      done("room-done", S.t("admin.roomCreated", { code }));
      load("rooms");
    } catch (err) {
      $("room-error").textContent = failText(err);
    }
  });

  // --- staff accounts and their rooms ----------------------------------------------------------

  function roomChecks(name, chosen) {
    return rooms().map((r) =>
      S.el(
        "label",
        { class: "check" },
        S.el("input", { type: "checkbox", name, value: r.id, checked: chosen.includes(r.id) }),
        " " + r.site.code + " / " + r.code + " · " + r.name
      )
    );
  }

  function checkedRooms(box) {
    return [...box.querySelectorAll("input[type=checkbox]:checked")].map((c) => Number(c.value));
  }

  function renderStaff() {
    $("staff-rows").replaceChildren(
      ...A.staff.map((st) => {
        const box = st.role === "proctor" ? S.el("div", { class: "checks hidden", id: "rooms-of-" + st.id }, roomChecks("rooms-" + st.id, st.room_ids)) : "";
        const save = S.el(
          "button",
          {
            type: "button",
            class: "small hidden",
            onclick: async () => {
              try {
                await call("PUT", "/api/admin/staff/" + st.id + "/rooms", { room_ids: checkedRooms(box) });
                done("staff-done", S.t("admin.roomsSaved", { user: st.username }));
                load("staff");
              } catch (err) {
                $("staff-error").textContent = failText(err);
              }
            },
          },
          S.t("admin.save")
        );
        const edit = S.el(
          "button",
          {
            type: "button",
            class: "small",
            "aria-label": S.t("admin.editRooms") + " " + st.username,
            onclick: () => {
              box.classList.remove("hidden");
              save.classList.remove("hidden");
              edit.classList.add("hidden");
            },
          },
          S.t("admin.editRooms")
        );
        return S.el(
          "tr",
          { dataset: { username: st.username } },
          S.el("td", {}, st.username),
          S.el("td", {}, st.name),
          S.el("td", {}, S.t("role." + st.role) + (st.disabled ? " · " + S.t("admin.disabled") : "")),
          S.el("td", { class: "staff-rooms" }, st.room_ids.map(roomLabel).join("; ") || "–", box),
          S.el("td", { class: "staff-actions" }, st.role === "proctor" ? [edit, save] : "", staffAccess(st), passwordReset(st))
        );
      })
    );
    $("staff-room-choices").replaceChildren(...roomChecks("new-staff-rooms", []));
  }

  /** Disable or enable an account: its logins and the tokens it holds (within seconds). */
  function staffAccess(st) {
    const verb = st.disabled ? "enable" : "disable";
    return S.el(
      "button",
      {
        type: "button",
        class: "small" + (st.disabled ? "" : " danger"),
        "aria-label": S.t("admin." + verb) + " " + st.username,
        onclick: async () => {
          if (!st.disabled && !window.confirm(S.t("admin.confirmDisable", { user: st.username }))) return;
          $("staff-error").textContent = "";
          try {
            await call("POST", "/api/admin/staff/" + st.id + "/" + verb, {});
            done("staff-done", S.t(st.disabled ? "admin.staffEnabled" : "admin.staffDisabled", { user: st.username }));
            load("staff");
          } catch (err) {
            const why = ((err.data && err.data.errors) || []).map((e) => e.message);
            $("staff-error").textContent = why.includes("last_admin")
              ? S.t("admin.lastAdmin")
              : why.includes("own_account")
                ? S.t("admin.ownAccount")
                : failText(err);
          }
        },
      },
      S.t("admin." + verb)
    );
  }

  /** A new password for an account, typed by the administrator and told in person. */
  function passwordReset(st) {
    const id = "new-password-" + st.id;
    const input = S.el("input", { id, type: "password", autocomplete: "new-password", minlength: "8" });
    const form = S.el(
      "form",
      {
        class: "inline-form hidden",
        novalidate: true,
        onsubmit: async (ev) => {
          ev.preventDefault();
          $("staff-error").textContent = "";
          try {
            await call("PUT", "/api/admin/staff/" + st.id + "/password", { password: input.value });
            input.value = "";
            done("staff-done", S.t("admin.passwordReset", { user: st.username }));
            form.classList.add("hidden");
            open.classList.remove("hidden");
          } catch (err) {
            $("staff-error").textContent = err.code === "invalid" ? S.t("admin.passwordShort") : failText(err);
          }
        },
      },
      S.el("label", { for: id }, S.t("admin.newPassword") + " (" + st.username + ")"),
      input,
      S.el("button", { type: "submit", class: "small" }, S.t("admin.save"))
    );
    const open = S.el(
      "button",
      {
        type: "button",
        class: "small",
        "aria-label": S.t("admin.resetPassword") + " " + st.username,
        onclick: () => {
          form.classList.remove("hidden");
          open.classList.add("hidden");
          input.focus();
        },
      },
      S.t("admin.resetPassword")
    );
    return [open, form];
  }

  $("staff-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("staff-error").textContent = "";
    $("staff-errors").replaceChildren();
    done("staff-done", "");
    const username = $("staff-username").value.trim();
    try {
      await call("POST", "/api/admin/staff", {
        username,
        name: $("staff-name").value.trim() || undefined,
        role: $("staff-role").value,
        password: $("staff-password").value,
        room_ids: checkedRooms($("staff-room-choices")),
      });
      $("staff-password").value = "";
      done("staff-done", S.t("admin.staffCreated", { user: username }));
      load("staff");
    } catch (err) {
      $("staff-error").textContent = err.code === "invalid" && /password/i.test(err.message) ? S.t("admin.passwordShort") : failText(err);
      $("staff-errors").replaceChildren(...errorLines(err).map((line) => S.el("li", {}, line)));
    }
  });

  // --- formations ---------------------------------------------------------------------------------------

  function renderFormations() {
    $("formation-rows").replaceChildren(
      ...A.formations.map((f) =>
        S.el(
          "tr",
          { dataset: { code: f.code } },
          S.el("td", {}, f.code),
          S.el("td", {}, f.agency),
          S.el("td", {}, f.position),
          S.el("td", {}, f.location),
          S.el("td", { class: "num" }, f.openings)
        )
      )
    );
  }

  $("formation-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("formation-error").textContent = "";
    $("formation-errors").replaceChildren();
    done("formation-done", "");
    const code = $("formation-code").value.trim();
    try {
      await call("POST", "/api/admin/formations", {
        formations: [
          {
            code,
            agency: $("formation-agency").value.trim(),
            position: $("formation-position").value.trim(),
            location: $("formation-location").value.trim(),
            openings: Number($("formation-openings").value),
          },
        ],
      });
      done("formation-done", S.t("admin.formationCreated", { code }));
      load("formations");
    } catch (err) {
      $("formation-error").textContent = failText(err);
      $("formation-errors").replaceChildren(...errorLines(err).map((line) => S.el("li", {}, line)));
    }
  });

  // --- sessions: schedule, open, close ------------------------------------------------------------

  function examName(id) {
    const e = (A.exams || []).find((x) => x.id === id);
    return e ? e.code : "#" + id;
  }

  function renderSessions() {
    $("session-rows").replaceChildren(
      ...A.sessions.map((s) =>
        S.el(
          "tr",
          { dataset: { code: s.code, status: s.status } },
          S.el("td", {}, s.id),
          S.el("td", {}, s.code),
          S.el("td", {}, examName(s.exam_id)),
          S.el("td", {}, roomLabel(s.room_id)),
          S.el("td", {}, S.el("span", { class: "status session-" + s.status }, S.t("session." + s.status))),
          S.el("td", { class: "num" }, s.candidates),
          S.el(
            "td",
            { class: "row-actions" },
            s.status === "scheduled"
              ? S.el("button", { type: "button", class: "small primary", dataset: { act: "open" }, onclick: () => openSession(s) }, S.t("proctor.open"))
              : "",
            s.status === "open"
              ? S.el("button", { type: "button", class: "small danger", dataset: { act: "close" }, onclick: () => askClose(s) }, S.t("proctor.close"))
              : "",
            S.el("a", { class: "button small", href: "proctor.html?session=" + s.id }, S.t("proctor.title")),
            S.el("a", { class: "button small", href: "board.html?session=" + s.id }, S.t("board.title"))
          )
        )
      )
    );
    const exams = A.exams || [];
    const keepExam = $("session-exam").value;
    $("session-exam").replaceChildren(...exams.map((e) => S.el("option", { value: e.code }, e.code + " · " + e.name)));
    if (keepExam) $("session-exam").value = keepExam;
    const keepRoom = $("session-room").value;
    $("session-room").replaceChildren(...rooms().map((r) => S.el("option", { value: r.site.code + "/" + r.code }, roomLabel(r.id))));
    if (keepRoom) $("session-room").value = keepRoom;
  }

  async function openSession(s) {
    try {
      const reply = await call("POST", "/api/sessions/" + s.id + "/open", {});
      done("session-result", S.t("admin.opened", { code: s.code, token: reply.token }));
      load("sessions");
    } catch (err) {
      done("session-result", failText(err));
    }
  }

  function askClose(s) {
    A.closing = s;
    $("close-title").textContent = S.t("action.for", { action: S.t("proctor.close"), who: s.code });
    $("close-confirm-label").textContent = S.t("action.typeToConfirm", { text: s.code });
    $("close-reason").value = "";
    $("close-confirm").value = "";
    $("close-error").textContent = "";
    $("close-dialog").showModal();
    $("close-reason").focus();
  }
  $("close-cancel").addEventListener("click", () => $("close-dialog").close());
  $("close-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const s = A.closing;
    const reason = $("close-reason").value.trim();
    if (!reason) {
      $("close-error").textContent = S.t("err.required");
      return $("close-reason").focus();
    }
    if ($("close-confirm").value.trim() !== s.code) {
      $("close-error").textContent = S.t("action.confirmMismatch", { text: s.code });
      return $("close-confirm").focus();
    }
    try {
      const reply = await call("POST", "/api/sessions/" + s.id + "/close", { reason });
      $("close-dialog").close();
      done("session-result", S.t("admin.closed", { code: s.code, n: reply.finished, fp: reply.checkpoint || "–" }));
      load("sessions");
    } catch (err) {
      $("close-error").textContent = failText(err);
    }
    return undefined;
  });

  $("session-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("session-error").textContent = "";
    const [site, room] = ($("session-room").value || "/").split("/");
    try {
      await call("POST", "/api/admin/sessions", {
        code: $("session-code").value.trim(),
        exam_code: $("session-exam").value,
        site_code: site,
        room_code: room,
      });
      load("sessions");
    } catch (err) {
      $("session-error").textContent = failText(err);
    }
  });

  // --- results: scores per session, publication ------------------------------------------------------

  function renderResultChooser() {
    const select = $("result-session");
    const current = select.value;
    select.replaceChildren(...A.sessions.map((s) => S.el("option", { value: s.id }, s.code + " (" + S.t("session." + s.status) + ")")));
    if (current) select.value = current;
    const keep = $("publish-exam").value;
    $("publish-exam").replaceChildren(...(A.exams || []).map((e) => S.el("option", { value: e.code }, e.code + " · " + e.name)));
    if (keep) $("publish-exam").value = keep;
    if (!$("publish-at").value) $("publish-at").value = new Date().toISOString().slice(0, 10);
    loadResults();
  }

  /** P / TL by the exam's own rules; TH and DIS as published. */
  function verdictText(r) {
    if (r.status === "absent") return "TH";
    if (r.status === "void") return "DIS";
    return r.passed === true ? "P" : r.passed === false ? "TL" : "–";
  }

  async function loadResults() {
    const id = $("result-session").value;
    if (!id) return;
    const rows = await call("GET", "/api/admin/sessions/" + id + "/attempts");
    const codes = [];
    for (const r of rows) for (const s of (r.score && r.score.sections) || []) if (!codes.includes(s.code)) codes.push(s.code);
    $("result-head").replaceChildren(
      ...["proctor.col.regno", "admin.name", "admin.category", "proctor.col.status"].map((k) => S.el("th", {}, S.t(k))),
      ...codes.map((c) => S.el("th", { class: "num" }, c)),
      S.el("th", { class: "num" }, S.t("result.total")),
      S.el("th", {}, S.t("admin.verdict"))
    );
    $("result-rows").replaceChildren(
      ...rows.map((r) => {
        const points = Object.fromEntries(((r.score && r.score.sections) || []).map((s) => [s.code, s.points]));
        const shown = r.status === "absent" || r.status === "void";
        return S.el(
          "tr",
          { dataset: { regno: r.registration_number, status: r.status } },
          S.el("td", {}, r.registration_number),
          S.el("td", {}, r.name),
          S.el("td", {}, r.category),
          S.el("td", {}, S.el("span", { class: "status " + r.status }, S.t("status." + r.status))),
          ...codes.map((c) => S.el("td", { class: "num" }, shown ? "–" : S.fmtPoints(points[c]))),
          S.el("td", { class: "num" }, shown ? "–" : S.fmtPoints(r.total)),
          S.el("td", { title: r.pass_reason || "" }, verdictText(r))
        );
      })
    );
  }
  $("result-session").addEventListener("change", loadResults);

  function publishedText(p) {
    if (!p) return S.t("admin.nothingPublished");
    return S.t("admin.publishedWhat", { exam: p.exam.id, at: p.exam.published_at, n: p.entries, root: p.root });
  }

  async function loadPublication() {
    try {
      const st = await call("GET", "/api/admin/results");
      $("results-key").textContent = st.key_fingerprint || S.t("admin.noResultsKey");
      $("results-published").textContent = publishedText(st.published);
    } catch (err) {
      $("results-published").textContent = failText(err);
    }
  }

  function report(lines, ok) {
    $("publish-report").replaceChildren(
      S.el("p", { class: ok ? "verdict-line ok" : "verdict-line bad" }, ok ? S.t("admin.verified") : S.t("admin.notVerified")),
      S.el("ul", {}, ...lines.map((l) => S.el("li", {}, l)))
    );
  }

  $("publish-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("publish-error").textContent = "";
    $("publish-report").replaceChildren();
    const body = { exam_code: $("publish-exam").value, published_at: $("publish-at").value.trim() };
    const title = $("publish-title-text").value.trim();
    if (title) body.title = title;
    try {
      const reply = await call("POST", "/api/admin/results/publish", body);
      $("publish-report").replaceChildren(
        S.el("p", { class: "verdict-line ok" }, S.t("admin.publishedDone", { exam: reply.exam_code, n: reply.candidates, f: reply.formations })),
        S.el("p", {}, S.t("admin.root") + ": ", S.el("code", {}, reply.root))
      );
      loadPublication();
    } catch (err) {
      $("publish-error").textContent = failText(err) + (err.message && err.code !== err.message ? " — " + err.message : "");
    }
  });

  $("verify-results").addEventListener("click", async () => {
    $("publish-error").textContent = "";
    try {
      const rep = await call("POST", "/api/admin/results/verify", {});
      report(rep.ok ? rep.checks : rep.problems, rep.ok);
    } catch (err) {
      $("publish-error").textContent = failText(err);
    }
  });

  window.SeleksiAdmin = {
    call,
    /** A tab's loader: ``onTab("bank", async (call) => …)``. */
    onTab(tab, fn) {
      loaders[tab] = fn;
    },
    show,
  };

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

  // A new language: the tab on screen is drawn again in it.
  document.addEventListener("seleksi:lang", () => {
    if (!staff.token) return;
    if (A.tab === "exams" && A.exams) {
      renderExams();
      renderDocs((A.exams || []).find((e) => e.code === A.docsCode));
    } else {
      load(A.tab).catch(() => {});
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
      $("import-error").textContent = err.data && err.data.errors ? S.t("admin.importFailed", { n: new Set(err.data.errors.map((e) => e.row)).size }) : failText(err);
      $("import-errors").replaceChildren(...errorLines(err).map((line) => S.el("li", {}, line)));
    }
  });

  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
  // The item bank's page part (when present) is linked from the exams tab.
  $("bank-link").addEventListener("click", (ev) => {
    if (TABS().includes("bank")) {
      ev.preventDefault();
      show("bank");
    }
  });
  document.addEventListener("DOMContentLoaded", () => show(TABS().includes(location.hash.slice(1)) ? location.hash.slice(1) : "exams"));
})();
