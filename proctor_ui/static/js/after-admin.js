// Seleksi: after the test, for the agency's staff (issue 20). Appeals of results
// (accept with a clerical correction, or reject), feedback moderation and answers,
// the training-needs page (shown in a frame, printable) and its CSV. The admin
// token is the admin pages' own (sessionStorage "seleksi.admin"). While the demo
// still prepares its finished exam in the background (the lists say
// being_prepared), the page says so and loads again every few seconds.
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const TEXT = {
    id: {
      title: "Setelah ujian", logout: "Keluar", lang: "English", loginTitle: "Masuk admin",
      user: "Nama pengguna", pass: "Kata sandi", login: "Masuk", exam: "Kode ujian", load: "Muat",
      appeals: "Sanggah hasil", feedback: "Kotak saran: moderasi",
      training: "Kebutuhan pelatihan pegawai baru", open: "Buka halaman cetak", csv: "Unduh CSV",
      none: "Tidak ada.", regno: "Nomor peserta", reason: "Alasan", asked: "Diminta", status: "Status",
      due: "Batas jawab", decide: "Keputusan", accept: "Terima", reject: "Tolak", answer: "Jawaban",
      value: "Nilai benar", field: "Perbaikan", text: "Isi", category: "Kategori",
      publish: "Terbitkan", answerIt: "Jawab",
      submitted: "diajukan", accepted: "diterima", rejected: "ditolak", pending: "menunggu",
      published: "terbit", version: "versi",
      preparing: "Ujian yang sudah selesai dalam demo ini ({exam}) sedang disiapkan: peserta, skor, "
        + "masukan, dan sanggah dibuat di latar belakang sejak demo dimulai, sekitar sepuluh detik. "
        + "Halaman ini memuat ulang daftarnya sendiri dalam beberapa detik.",
    },
    en: {
      title: "After the test", logout: "Log out", lang: "Bahasa Indonesia", loginTitle: "Admin login",
      user: "Username", pass: "Password", login: "Log in", exam: "Exam code", load: "Load",
      appeals: "Appeals of results", feedback: "Feedback box: moderation",
      training: "Training needs of new hires", open: "Open the printable page", csv: "Download CSV",
      none: "None.", regno: "Registration number", reason: "Reason", asked: "Asked", status: "Status",
      due: "Answer by", decide: "Decision", accept: "Accept", reject: "Reject", answer: "Answer",
      value: "Correct value", field: "Correction", text: "Text", category: "Category",
      publish: "Publish", answerIt: "Answer",
      submitted: "submitted", accepted: "accepted", rejected: "rejected", pending: "pending",
      published: "published", version: "version",
      preparing: "The demo's finished exam ({exam}) is being prepared: its candidates, scores, "
        + "feedback and appeals are made in the background since the demo started, about ten "
        + "seconds. This page loads its lists again by itself in a few seconds.",
    },
  };
  const tx = (k) => (TEXT[S.lang] || TEXT.id)[k] || k;
  const A = {
    exam: new URLSearchParams(location.search).get("exam") || "",
    preparing: null, // the exam the server said is being prepared, or null
    retry: null,
  };
  const RETRY_MS = 5000;
  const staff = S.staffSession({
    storageKey: "seleksi.admin",
    roles: ["admin"],
    refused: "admin_only",
    // Other login errors in the server's words, as this page has said them.
    errorText: (err) =>
      err.code === "bad_credentials" ? S.errorText("bad_staff_credentials")
        : err.code === "admin_only" ? S.errorText("admin_only") : err.message,
    form: "aa-login-form",
    username: "aa-user",
    password: "aa-pass",
    error: "aa-login-error",
    logout: "aa-logout",
    screens: { login: "aa-login", main: ["aa-main"] },
    onLogin: () => {
      screen();
      load();
    },
    onLogout: screen,
  });

  function preparingNote() {
    const p = $("aa-preparing");
    p.textContent = A.preparing ? tx("preparing").replace("{exam}", A.preparing) : "";
    p.classList.toggle("hidden", !A.preparing);
  }

  function texts() {
    const map = {
      "aa-title": "title", "aa-logout": "logout", "aa-lang": "lang", "aa-login-title": "loginTitle",
      "aa-user-label": "user", "aa-pass-label": "pass", "aa-login-button": "login", "aa-exam-label": "exam",
      "aa-load": "load", "aa-appeals-title": "appeals", "aa-feedback-title": "feedback",
      "aa-training-title": "training", "aa-training-open": "open", "aa-training-csv": "csv",
    };
    for (const [id, key] of Object.entries(map)) $(id).textContent = tx(key);
    $("aa-training-frame").title = tx("training");
    preparingNote();
    document.documentElement.lang = S.lang;
  }

  function screen() {
    staff.show();
    $("aa-exam").value = A.exam;
  }

  const api = staff.call;
  const when = (t) => (t ? new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ") : "–");

  function table(headers, rows) {
    if (!rows.length) return S.el("p", {}, tx("none"));
    return S.el("table", {},
      S.el("thead", {}, S.el("tr", {}, headers.map((h) => S.el("th", { scope: "col" }, h)))),
      S.el("tbody", {}, rows));
  }

  function decideForm(a) {
    const answer = S.el("input", { "aria-label": tx("answer") + " " + a.id, name: "answer" });
    const field = S.el("select", { "aria-label": tx("field") + " " + a.id, name: "field" },
      ["name", "category", "skb"].map((f) => S.el("option", { value: f, selected: f === a.field }, f)));
    const value = S.el("input", { "aria-label": tx("value") + " " + a.id, name: "value", value: a.requested || "" });
    const go = (status) => async () => {
      const body = { status, answer: answer.value };
      if (status === "accepted") Object.assign(body, { field: field.value, value: value.value });
      try { await api("POST", "/api/after/appeals/" + a.id + "/decide", body); load(); }
      catch (err) { $("aa-error").textContent = err.message; }
    };
    return S.el("div", { class: "item-actions" }, answer, field, value,
      S.el("button", { type: "button", onclick: go("accepted") }, tx("accept")),
      S.el("button", { type: "button", onclick: go("rejected") }, tx("reject")));
  }

  function feedbackActions(f) {
    const act = async (path, body) => {
      try { await api("POST", "/api/after/feedback/" + f.id + path, body); load(); }
      catch (err) { $("aa-error").textContent = err.message; }
    };
    if (f.status === "pending") {
      return S.el("div", { class: "item-actions" },
        S.el("button", { type: "button", onclick: () => act("/moderate", { decision: "published" }) }, tx("publish")),
        S.el("button", { type: "button", onclick: () => act("/moderate", { decision: "rejected" }) }, tx("reject")));
    }
    if (f.status === "published" && !f.answer) {
      const input = S.el("input", { "aria-label": tx("answer") + " " + f.id });
      return S.el("div", { class: "item-actions" }, input,
        S.el("button", { type: "button", onclick: () => act("/answer", { answer: input.value }) }, tx("answerIt")));
    }
    return f.answer || "";
  }

  async function load() {
    $("aa-error").textContent = "";
    clearTimeout(A.retry);
    if (!A.exam) return;
    const asked = A.exam;
    const exam = encodeURIComponent(asked);
    try {
      const [ap, fb] = await Promise.all([
        api("GET", "/api/after/" + exam + "/appeals"),
        api("GET", "/api/after/" + exam + "/feedback"),
      ]);
      if (asked !== A.exam) return; // another exam asked for meanwhile
      A.preparing = ap.being_prepared || fb.being_prepared ? asked : null;
      preparingNote();
      if (A.preparing) A.retry = setTimeout(load, RETRY_MS);
      $("aa-appeals").replaceChildren(table(
        ["#", tx("regno"), tx("reason"), tx("asked"), tx("status"), tx("due"), tx("decide")],
        ap.appeals.map((a) => S.el("tr", { "data-appeal": a.id },
          S.el("td", {}, a.id), S.el("td", {}, a.registration_number), S.el("td", {}, a.reason),
          S.el("td", {}, a.field ? a.field + ": " + (a.requested || "") : "–"),
          S.el("td", {}, tx(a.status) + (a.version ? " (" + tx("version") + " " + a.version + ")" : "")),
          S.el("td", {}, when(a.answer_by)),
          S.el("td", {}, a.status === "submitted" ? decideForm(a) : a.answer || "")))));
      $("aa-feedback").replaceChildren(table(
        ["#", tx("category"), tx("text"), tx("status"), tx("decide")],
        fb.feedback.map((f) => S.el("tr", { "data-feedback": f.id },
          S.el("td", {}, f.id), S.el("td", {}, f.category), S.el("td", {}, f.text),
          S.el("td", {}, tx(f.status)), S.el("td", {}, feedbackActions(f))))));
    } catch (err) {
      $("aa-error").textContent = err.message;
    }
  }

  async function fetchText(path) {
    const r = await staff.fetch(path); // a 401 logs out: the login says why
    if (r.status === 401) return null;
    if (r.status === 503) {
      // The demo's exam being prepared: say it as the lists do, and look again.
      A.preparing = A.exam;
      preparingNote();
      clearTimeout(A.retry);
      A.retry = setTimeout(load, RETRY_MS);
      return null;
    }
    if (!r.ok) throw new Error((await r.text()) || String(r.status));
    return r;
  }

  $("aa-training-open").addEventListener("click", async () => {
    try {
      const lang = S.lang === "en" ? "?lang=en" : "";
      const r = await fetchText("/api/after/" + encodeURIComponent(A.exam) + "/training.html" + lang);
      if (!r) return;
      const frame = $("aa-training-frame");
      frame.srcdoc = await r.text();
      frame.classList.remove("hidden");
    } catch (err) { $("aa-error").textContent = err.message; }
  });
  $("aa-training-csv").addEventListener("click", async () => {
    try {
      const r = await fetchText("/api/after/" + encodeURIComponent(A.exam) + "/training.csv");
      if (!r) return;
      const url = URL.createObjectURL(await r.blob());
      const a = S.el("a", { href: url, download: "kebutuhan-pelatihan-" + A.exam + ".csv" });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { $("aa-error").textContent = err.message; }
  });
  $("aa-exam-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    A.exam = $("aa-exam").value.trim();
    A.preparing = null;
    preparingNote();
    load();
  });
  $("aa-lang").addEventListener("click", () => { S.setLang(S.lang === "id" ? "en" : "id"); texts(); load(); });

  document.addEventListener("DOMContentLoaded", () => { texts(); screen(); if (staff.token) load(); });
})();
