// Seleksi: the forensics admin page (forensics.html). Sessions ranked for review
// (the server renders the report; it is shown in a sandboxed frame), the item
// watch and the review of flagged items (flag, retire, clear with a reason).
"use strict";

// This page's texts, added to the shared table before the page is translated.
Object.assign(SELEKSI_TEXTS.id, {
  "fx.title": "Forensik data",
  "fx.back": "Administrasi",
  "fx.intro": "Indeks forensik menunjukkan pola yang jarang pada peserta yang mengerjakan sendiri. Hasilnya daftar untuk ditinjau, bukan putusan.",
  "fx.sessions": "Analisis sesi",
  "fx.compromised": "Soal yang diduga bocor (kode, pisahkan dengan koma; boleh kosong)",
  "fx.fdr": "Tingkat temuan palsu daftar tinjauan",
  "fx.session": "Sesi",
  "fx.exam": "Ujian",
  "fx.room": "Ruang",
  "fx.status": "Status",
  "fx.attempts": "Peserta",
  "fx.action": "Tindakan",
  "fx.analyse": "Analisis {code}",
  "fx.analysing": "Menganalisis sesi {code} …",
  "fx.report": "Laporan",
  "fx.download": "Unduh laporan (HTML)",
  "fx.summary": "Sesi {code}: {n} peserta, {review} untuk ditinjau (tingkat temuan palsu {fdr}).",
  "fx.items": "Pengawasan soal",
  "fx.itemsHint": "Soal yang tiba-tiba menjadi lebih mudah atau lebih cepat dijawab daripada parameternya ditandai untuk ditinjau. Soal yang dipensiunkan langsung keluar dari pemilihan soal.",
  "fx.watch": "Perbarui pengawasan",
  "fx.watched": "{attempts} sesi peserta dan {answers} jawaban diperiksa; {flagged} soal ditandai.",
  "fx.item": "Soal",
  "fx.answers": "Jawaban",
  "fx.pRight": "Benar / diharapkan",
  "fx.timeZ": "Waktu (z rata-rata)",
  "fx.reason": "Alasan",
  "fx.review": "Tinjau soal",
  "fx.reviewItem": "Tinjau {item}",
  "fx.flag": "Tandai",
  "fx.retire": "Pensiunkan",
  "fx.clear": "Bersihkan",
  "fx.done": "Soal {item}: {status}.",
  "fx.forms": "Tes yang sudah disusun dan belum dimulai: {patched} mendapat soal paralel sebagai gantinya, {kept} tetap memuatnya (tidak ada soal paralel). Tes yang sudah dimulai dan memuatnya tanpa jawaban: {started} (tetap memuatnya).",
  "fx.needReason": "Isi soal dan alasannya.",
  "fx.unknownItem": "Soal {item} tidak ada di bank soal maupun di ujian mana pun: periksa kodenya.",
  "fx.noItems": "Belum ada soal yang diawasi.",
  "fx.st.flagged": "ditandai",
  "fx.st.retired": "dipensiunkan",
  "fx.st.cleared": "dibersihkan",
  "fx.st.watching": "diawasi",
  "err.not_allowed": "Tidak dapat dilakukan pada status soal ini.",
});
Object.assign(SELEKSI_TEXTS.en, {
  "fx.title": "Data forensics",
  "fx.back": "Administration",
  "fx.intro": "Forensic indices show patterns that are rare for candidates answering on their own. The result is a list for review, not a verdict.",
  "fx.sessions": "Session analysis",
  "fx.compromised": "Suspected leaked items (ids, comma separated; may be empty)",
  "fx.fdr": "False-discovery rate of the review list",
  "fx.session": "Session",
  "fx.exam": "Exam",
  "fx.room": "Room",
  "fx.status": "Status",
  "fx.attempts": "Candidates",
  "fx.action": "Action",
  "fx.analyse": "Analyse {code}",
  "fx.analysing": "Analysing session {code} …",
  "fx.report": "Report",
  "fx.download": "Download the report (HTML)",
  "fx.summary": "Session {code}: {n} candidates, {review} to review (false-discovery rate {fdr}).",
  "fx.items": "Item watch",
  "fx.itemsHint": "Items that suddenly became easier or faster than their parameters say are flagged for review. A retired item leaves item selection at once.",
  "fx.watch": "Update the watch",
  "fx.watched": "{attempts} sittings and {answers} answers taken in; {flagged} items flagged.",
  "fx.item": "Item",
  "fx.answers": "Answers",
  "fx.pRight": "Right / expected",
  "fx.timeZ": "Time (mean z)",
  "fx.reason": "Reason",
  "fx.review": "Review an item",
  "fx.reviewItem": "Review {item}",
  "fx.flag": "Flag",
  "fx.retire": "Retire",
  "fx.clear": "Clear",
  "fx.done": "Item {item}: {status}.",
  "fx.forms": "Tests prepared and not started: {patched} got a parallel item in its place, {kept} keep it (no parallel item). Started tests holding it unanswered: {started} (they keep it).",
  "fx.needReason": "Give the item and the reason.",
  "fx.unknownItem": "Neither the item bank nor any exam holds item {item}: check its id.",
  "fx.noItems": "No item is watched yet.",
  "fx.st.flagged": "flagged",
  "fx.st.retired": "retired",
  "fx.st.cleared": "cleared",
  "fx.st.watching": "watching",
  "err.not_allowed": "Not possible in the item's current status.",
});

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const F = { blobUrl: null };
  const staff = S.staffSession({
    storageKey: "seleksi.admin",
    roles: ["admin"],
    refused: "admin_only",
    screens: { login: "screen-login", main: ["screen-main"] },
    onLogin: show,
    onLogout: show,
  });
  const call = staff.call;

  function show() {
    staff.show();
    if (staff.token) {
      loadSessions().catch((err) => ($("session-msg").textContent = S.errorText(err.code, err.data)));
      loadItems().catch((err) => ($("watch-msg").textContent = S.errorText(err.code, err.data)));
    }
  }

  async function loadSessions() {
    const reply = await call("GET", "/api/admin/forensics/sessions");
    const body = $("sessions-body");
    body.replaceChildren(
      ...reply.sessions.map((s) =>
        S.el(
          "tr",
          {},
          S.el("td", {}, s.code),
          S.el("td", {}, s.exam),
          S.el("td", {}, s.room),
          S.el("td", {}, s.status),
          S.el("td", { class: "num" }, s.attempts),
          S.el(
            "td",
            {},
            S.el(
              "button",
              { type: "button", disabled: s.attempts === 0, onclick: () => analyse(s) },
              S.t("fx.analyse", { code: s.code })
            )
          )
        )
      )
    );
  }

  function query() {
    const params = new URLSearchParams();
    const leaked = $("compromised").value.trim();
    if (leaked) params.set("compromised", leaked);
    params.set("fdr", $("fdr").value || "0.05");
    return params.toString();
  }

  async function analyse(s) {
    $("session-msg").textContent = S.t("fx.analysing", { code: s.code });
    try {
      const q = query();
      const summary = await call("GET", `/api/admin/forensics/sessions/${s.id}?${q}`);
      // The report page itself comes from the server (Jinja2, autoescaped).
      const response = await staff.fetch(`/api/admin/forensics/sessions/${s.id}/report.html?${q}`);
      if (response.status === 401) return; // logged out: the login says why
      if (!response.ok) throw new S.ApiError(response.status, "http_" + response.status);
      const html = await response.text();
      $("report-frame").srcdoc = html;
      if (F.blobUrl) URL.revokeObjectURL(F.blobUrl);
      F.blobUrl = URL.createObjectURL(new Blob([html], { type: "text/html" }));
      $("report-download").href = F.blobUrl;
      $("report-download").download = `forensik-${s.code}.html`;
      $("report-summary").textContent = S.t("fx.summary", {
        code: summary.session,
        n: summary.candidates,
        review: summary.review,
        fdr: summary.fdr,
      });
      $("report-card").classList.remove("hidden");
      $("session-msg").textContent = "";
    } catch (err) {
      $("session-msg").textContent = S.errorText(err.code, err.data);
    }
  }

  const share = (x) => (x === null || x === undefined ? "–" : x.toFixed(2));

  async function loadItems() {
    const reply = await call("GET", "/api/admin/forensics/items");
    const body = $("items-body");
    if (!reply.items.length) {
      body.replaceChildren(S.el("tr", {}, S.el("td", { colspan: 8 }, S.t("fx.noItems"))));
      return;
    }
    body.replaceChildren(
      ...reply.items.map((it) =>
        S.el(
          "tr",
          { dataset: { item: it.item_id } },
          S.el("td", {}, it.item_id),
          S.el("td", { class: "fx-status-" + it.status }, S.t("fx.st." + it.status)),
          S.el("td", { class: "num" }, it.cusum === null ? "–" : it.cusum.toFixed(1)),
          S.el("td", { class: "num" }, it.administrations),
          S.el("td", { class: "num" }, share(it.p_right) + " / " + share(it.p_expected)),
          S.el("td", { class: "num" }, it.time_z === null ? "–" : it.time_z.toFixed(2)),
          S.el("td", {}, it.reason),
          S.el(
            "td",
            {},
            it.status === "flagged"
              ? S.el(
                  "button",
                  {
                    type: "button",
                    onclick: () => {
                      $("review-item").value = it.item_id;
                      $("review-reason").focus();
                    },
                  },
                  S.t("fx.reviewItem", { item: it.item_id })
                )
              : ""
          )
        )
      )
    );
  }

  $("watch").addEventListener("click", async () => {
    try {
      const r = await call("POST", "/api/admin/forensics/items/watch");
      $("watch-msg").textContent = S.t("fx.watched", {
        attempts: r.attempts,
        answers: r.administrations,
        flagged: r.flagged.length,
      });
      await loadItems();
    } catch (err) {
      $("watch-msg").textContent = S.errorText(err.code, err.data);
    }
  });

  $("review-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = ev.submitter ? ev.submitter.value : "flagged";
    const item = $("review-item").value.trim();
    const reason = $("review-reason").value.trim();
    if (!item || !reason) {
      $("review-msg").textContent = S.t("fx.needReason");
      return;
    }
    try {
      const done = await call("POST", "/api/admin/forensics/items/review", { item_id: item, status, reason });
      let msg = S.t("fx.done", { item, status: S.t("fx.st." + status) });
      if (done && done.forms) {
        const f = done.forms;
        msg += " " + S.t("fx.forms", { patched: f.prepared_patched, kept: f.prepared_kept, started: f.started_unanswered });
      }
      $("review-msg").textContent = msg;
      $("review-reason").value = "";
      await loadItems();
    } catch (err) {
      $("review-msg").textContent =
        err.code === "not_found" ? S.t("fx.unknownItem", { item }) : S.errorText(err.code, err.data);
    }
  });

  document.addEventListener("seleksi:lang", () => {
    if (staff.token) show();
  });
  document.addEventListener("DOMContentLoaded", show);
})();
