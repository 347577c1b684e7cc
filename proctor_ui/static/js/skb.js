// Seleksi SKB pages (issue 19): the assessor's page (candidates, conflict-of-interest
// declaration, rubric, submit; blind until all are in), the panel chair's page
// (adjudication queue, agreement, severity table and plot) and the candidate's
// page (interview schedule in their zone, link, SKB breakdown).
// REST: /api/auth/login, /api/skb/me, /api/skb/declarations, /api/skb/sheets,
// /api/skb/chair, /api/skb/adjudications, /api/skb/candidate (registration number and
// the signed SKD receipt).
"use strict";

Object.assign(SELEKSI_TEXTS.id, {
  "skb.adminTitle": "Pengaturan SKB",
  "skb.plan": "Rencana SKB formasi",
  "skb.planHint": "Komponen, bobot, nilai minimal dan rubrik; diperiksa terhadap batas kebijakan.",
  "skb.planJson": "Dokumen rencana (JSON)",
  "skb.savePlan": "Simpan rencana",
  "skb.planSaved": "Rencana formasi {f} disimpan.",
  "skb.planLine": "{f}: {parts} (batas kebijakan {caps})",
  "skb.addAssessor": "Akun asesor",
  "skb.addAssessorBtn": "Tambah asesor",
  "skb.assessorAdded": "Asesor {u} ditambahkan.",
  "skb.newPanel": "Panel asesor",
  "skb.panelCode": "Kode panel",
  "skb.formation": "Formasi",
  "skb.componentCode": "Kode komponen",
  "skb.members": "Asesor (nama pengguna, dipisah koma)",
  "skb.chair": "Ketua panel",
  "skb.createPanel": "Buat panel",
  "skb.panelCreated": "Panel {p} dibuat.",
  "skb.slots": "Slot wawancara",
  "skb.date": "Tanggal",
  "skb.from": "Tersedia dari",
  "skb.to": "sampai",
  "skb.zone": "Zona waktu",
  "skb.minutes": "Lama per slot (menit)",
  "skb.gap": "Jeda antarslot (menit)",
  "skb.meetingBase": "Alamat ruang pertemuan (https://)",
  "skb.createSlots": "Buat slot",
  "skb.slotsCreated": "{n} slot dibuat.",
  "skb.panelTable": "Panel {p} · formasi {f} · {c} · {m}",
  "skb.chairMark": "ketua",
  "skb.assignTo": "Peserta untuk slot {when}",
  "skb.assign": "Jadwalkan",
  "skb.assigned": "{r} dijadwalkan.",
  "skb.finalTitle": "Nilai akhir dan publikasi",
  "skb.catExam": "Kode ujian tes bidang (CAT)",
  "skb.importCat": "Ambil nilai tes bidang",
  "skb.catImported": "{n} nilai tes bidang disimpan ({k} sudah ada).",
  "skb.skdExam": "Kode ujian SKD",
  "skb.publishedAt": "Tanggal pengumuman",
  "skb.publish": "Umumkan peringkat akhir",
  "skb.published": "Diumumkan dan ditandatangani. Akar Merkle {root}.",
  "skb.remind": "Kirim pengingat (24 jam)",
  "skb.reminded": "{n} pengingat masuk kotak keluar ({x} tanpa alamat surel).",
  "skb.verify": "Verifikasi publikasi",
  "skb.verified": "Publikasi terverifikasi: {n} pemeriksaan lolos.",
  "skb.notVerified": "Publikasi TIDAK lolos verifikasi: {p}",
  "skb.publicPage": "Halaman hasil publik",
  "err.not_called": "Peserta tidak dipanggil ke SKB formasi ini",
  "err.bad_plan": "Rencana ditolak",
  "err.bad_schedule": "Jadwal tidak sah",
  "skb.assessorTitle": "Penilaian SKB",
  "skb.chairTitle": "Ketua Panel SKB",
  "skb.candTitle": "Jadwal dan Nilai SKB",
  "skb.login": "Masuk asesor",
  "skb.todayOnly": "Hanya jadwal hari ini",
  "skb.noneToday": "Tidak ada wawancara hari ini di panel ini (hapus centang untuk melihat semua jadwal).",
  "skb.blindHint": "Nilai Anda tersembunyi dari asesor lain, dan nilai mereka dari Anda, sampai semua asesor panel mengirim.",
  "skb.panel": "Panel {code} · {component}",
  "skb.chairLink": "Halaman ketua panel",
  "skb.back": "Halaman asesor",
  "skb.time": "Waktu",
  "skb.regno": "Nomor peserta",
  "skb.name": "Nama",
  "skb.state": "Status",
  "skb.sheets": "Lembar masuk",
  "skb.final": "Nilai akhir",
  "skb.meeting": "Tautan pertemuan",
  "skb.open": "Buka pertemuan",
  "skb.score": "Nilai (0–100)",
  "skb.scoreBtn": "Nilai {regno}",
  "skb.empty": "kosong",
  "skb.state.waiting": "menunggu lembar",
  "skb.state.adjudication": "menunggu adjudikasi",
  "skb.state.final": "final",
  "skb.state.recused": "Anda mundur (konflik)",
  "skb.sheetTitle": "Lembar penilaian: {name} ({regno})",
  "skb.declareAsk": "Sebelum menilai: apakah Anda memiliki konflik kepentingan dengan peserta ini (keluarga, atasan/bawahan, hubungan lain)?",
  "skb.coiNote": "Keterangan (jika ada konflik)",
  "skb.noConflict": "Tidak ada konflik, lanjut menilai",
  "skb.conflict": "Ada konflik: saya mundur",
  "skb.recusedDone": "Anda mundur dari menilai peserta ini. Tercatat di log audit.",
  "skb.submit": "Kirim nilai",
  "skb.sent": "Terkirim: nilai Anda {score}.",
  "skb.sent.waiting": "Nilai asesor lain tetap tersembunyi sampai semua mengirim.",
  "skb.sent.adjudication": "Semua lembar masuk, tetapi selisihnya melewati batas: ketua panel akan mengadjudikasi.",
  "skb.sent.final": "Semua lembar masuk; nilai komponen sudah final.",
  "skb.others": "Nilai semua asesor",
  "skb.pick": "Pilih satu tingkat untuk setiap kriteria.",
  "skb.queue": "Antrean adjudikasi",
  "skb.queueHint": "Peserta yang nilai asesornya berselisih lebih dari batas: ketua menetapkan nilai dengan alasan (tercatat di log audit).",
  "skb.severityHint": "Positif: lebih keras dari rata-rata panel; negatif: lebih lunak (logit). Infit/outfit dekat 1 berarti penilaian konsisten; di atas 1,5 tidak menentu.",
  "skb.queueEmpty": "Tidak ada yang menunggu adjudikasi.",
  "skb.adjScore": "Nilai yang ditetapkan ketua (0–100)",
  "skb.adjReason": "Alasan",
  "skb.adjudicate": "Tetapkan nilai",
  "skb.chairRecused": "Ketua menyatakan konflik kepentingan dengan peserta ini: nilainya ditetapkan administrator.",
  "skb.adminQueue": "Menunggu adjudikasi administrator (ketua panel {p} mundur karena konflik)",
  "skb.adminScore": "Nilai yang ditetapkan administrator (0–100)",
  "skb.candidates": "Peserta panel",
  "skb.agreement": "Kesepakatan antarasesor",
  "skb.statistic": "Statistik",
  "skb.value": "Nilai",
  "skb.ci": "Selang kepercayaan 95%",
  "skb.icc.A1": "ICC(A,1): kesepakatan mutlak, satu asesor",
  "skb.icc.Ak": "ICC(A,k): kesepakatan mutlak, rata-rata panel",
  "skb.icc.C1": "ICC(C,1): konsistensi, satu asesor",
  "skb.icc.Ck": "ICC(C,k): konsistensi, rata-rata panel",
  "skb.alpha": "Alfa Krippendorff (ordinal)",
  "skb.componentAlpha": "Alfa Krippendorff, semua panel komponen ini ({n} panel)",
  "skb.componentIcc1": "ICC(1): satu asesor, semua panel komponen ini ({n} kandidat dengan {k} nilai)",
  "skb.componentIcck": "ICC(k): rata-rata {k} asesor, semua panel komponen ini",
  "skb.componentLeftOut": "{m} kandidat dengan jumlah nilai berbeda (lembar belum masuk, atau asesor mundur karena benturan kepentingan) tidak dihitung dalam ICC semua panel.",
  "skb.fair": "Nilai wajar (model)",
  "skb.basis.raw": "Kebijakan: peringkat memakai nilai akhir panel (rata-rata/median). Nilai wajar menunjukkan nilai bila asesor sama kerasnya.",
  "skb.basis.fair": "Kebijakan: peringkat memakai nilai wajar (dikoreksi kekerasan asesor), kecuali nilai hasil adjudikasi.",
  "skb.severity": "Kekerasan asesor (model Rasch banyak faset)",
  "skb.assessor": "Asesor",
  "skb.sevCol": "Kekerasan",
  "skb.plotLabel": "Kekerasan tiap asesor dalam logit dengan selang 95%: {list}",
  "skb.lenient": "← lebih lunak",
  "skb.harsh": "lebih keras →",
  "skb.reliability": "Reliabilitas pemisahan asesor: {r}",
  "skb.candLogin": "Lihat jadwal wawancara",
  "skb.receipt": "Kode tanda terima SKD",
  "skb.receiptHint": "Tempel kode yang diawali SELEKSI-R1: yang tampil di layar pada akhir tes SKD (tanda terima Anda; juga diterima di halaman setelah tes). Kode hilang? Lihat lagi di akun pendaftaran Anda (Pendaftaran saya, /recruitment/me), atau minta kepada panitia dengan membawa KTP. Tanggal lahir tidak lagi dipakai: tanggal itu diumumkan bersama hasil seleksi.",
  "skb.badReceipt": "Kode tanda terima tidak sah untuk nomor peserta ini. Tempel seluruh kode dari akhir tes SKD Anda.",
  "skb.show": "Tampilkan",
  "skb.interviews": "Jadwal wawancara",
  "skb.zoneHint": "Waktu ditampilkan dalam zona waktu Anda (WIB, WITA atau WIT). Seleksi tidak menyelenggarakan video: tautan membuka ruang pertemuan panel.",
  "skb.noInterview": "Belum ada jadwal wawancara untuk Anda.",
  "skb.breakdown": "Rincian nilai SKB",
  "skb.component": "Komponen",
  "skb.weight": "Bobot",
  "skb.total": "Nilai SKB",
  "skb.finalLine": "Nilai akhir (SKD 40% + SKB 60%): {f} · keterangan {code}. Pengumuman resmi ada di halaman hasil.",
  "skb.move": "Pindah jadwal (paling lambat {h} jam sebelumnya)",
  "skb.moveTo": "Pindah ke {when}",
  "skb.noMove": "Jadwal tidak dapat dipindah lagi (batas {h} jam sebelumnya) atau tidak ada jadwal kosong.",
  "skb.moved": "Jadwal dipindah. Jadwal baru juga dikirim ke surel Anda.",
  "skb.choose": "{c}: pilih waktu wawancara Anda",
  "skb.chooseAt": "Pilih {when}",
  "skb.noneFree": "Belum ada slot kosong; periksa lagi nanti.",
  "err.too_late": "Sudah melewati batas waktu pindah jadwal",
  "err.bad_sheet": "Lembar ditolak",
  "err.finalised": "Nilai sudah final; perubahan tidak diterima",
  "err.not_in_slot": "Peserta tidak terjadwal di panel ini",
  "err.recused": "Anda sudah menyatakan konflik kepentingan",
  "err.not_chair": "Hanya ketua panel",
  "err.bad_field": "Isian tidak sah",
  "err.too_few_assessors": "Panel akan kurang dari 2 asesor: perlu pengganti",
});
Object.assign(SELEKSI_TEXTS.en, {
  "skb.adminTitle": "SKB set-up",
  "skb.plan": "A formation's SKB plan",
  "skb.planHint": "Components, weights, minimums and rubrics; checked against the policy's caps.",
  "skb.planJson": "Plan document (JSON)",
  "skb.savePlan": "Save the plan",
  "skb.planSaved": "The plan of formation {f} is saved.",
  "skb.planLine": "{f}: {parts} (policy caps {caps})",
  "skb.addAssessor": "Assessor account",
  "skb.addAssessorBtn": "Add the assessor",
  "skb.assessorAdded": "Assessor {u} added.",
  "skb.newPanel": "Panel of assessors",
  "skb.panelCode": "Panel code",
  "skb.formation": "Formation",
  "skb.componentCode": "Component code",
  "skb.members": "Assessors (usernames, comma-separated)",
  "skb.chair": "Panel chair",
  "skb.createPanel": "Create the panel",
  "skb.panelCreated": "Panel {p} created.",
  "skb.slots": "Interview slots",
  "skb.date": "Date",
  "skb.from": "Available from",
  "skb.to": "until",
  "skb.zone": "Time zone",
  "skb.minutes": "Minutes per slot",
  "skb.gap": "Minutes between slots",
  "skb.meetingBase": "Meeting room address (https://)",
  "skb.createSlots": "Create the slots",
  "skb.slotsCreated": "{n} slots created.",
  "skb.panelTable": "Panel {p} · formation {f} · {c} · {m}",
  "skb.chairMark": "chair",
  "skb.assignTo": "Candidate for the slot at {when}",
  "skb.assign": "Schedule",
  "skb.assigned": "{r} scheduled.",
  "skb.finalTitle": "Final scores and publication",
  "skb.catExam": "Field test (CAT) exam code",
  "skb.importCat": "Take the field test's scores",
  "skb.catImported": "{n} field test scores stored ({k} already there).",
  "skb.skdExam": "SKD exam code",
  "skb.publishedAt": "Announcement date",
  "skb.publish": "Announce the final ranking",
  "skb.published": "Announced and signed. Merkle root {root}.",
  "skb.remind": "Send reminders (24 hours)",
  "skb.reminded": "{n} reminders in the outbox ({x} without an email address).",
  "skb.verify": "Verify the publication",
  "skb.verified": "The publication verifies: {n} checks passed.",
  "skb.notVerified": "The publication does NOT verify: {p}",
  "skb.publicPage": "Public results page",
  "err.not_called": "The candidate is not called to this formation's SKB",
  "err.bad_plan": "Plan refused",
  "err.bad_schedule": "Invalid schedule",
  "skb.assessorTitle": "SKB scoring",
  "skb.chairTitle": "SKB panel chair",
  "skb.candTitle": "SKB schedule and score",
  "skb.login": "Assessor sign-in",
  "skb.todayOnly": "Today's interviews only",
  "skb.noneToday": "No interview today on this panel (untick to see every slot).",
  "skb.blindHint": "Your scores are hidden from the other assessors, and theirs from you, until every assessor of the panel has submitted.",
  "skb.panel": "Panel {code} · {component}",
  "skb.chairLink": "Panel chair's page",
  "skb.back": "Assessor's page",
  "skb.time": "Time",
  "skb.regno": "Registration number",
  "skb.name": "Name",
  "skb.state": "Status",
  "skb.sheets": "Sheets in",
  "skb.final": "Final score",
  "skb.meeting": "Meeting link",
  "skb.open": "Open meeting",
  "skb.score": "Score (0–100)",
  "skb.scoreBtn": "Score {regno}",
  "skb.empty": "empty",
  "skb.state.waiting": "waiting for sheets",
  "skb.state.adjudication": "awaiting adjudication",
  "skb.state.final": "final",
  "skb.state.recused": "you are recused (conflict)",
  "skb.sheetTitle": "Scoring sheet: {name} ({regno})",
  "skb.declareAsk": "Before scoring: do you have a conflict of interest with this candidate (family, line manager, another relationship)?",
  "skb.coiNote": "Note (if there is a conflict)",
  "skb.noConflict": "No conflict, go on to score",
  "skb.conflict": "Conflict: I recuse myself",
  "skb.recusedDone": "You are recused from scoring this candidate. Recorded in the audit log.",
  "skb.submit": "Submit scores",
  "skb.sent": "Submitted: your score {score}.",
  "skb.sent.waiting": "The other assessors' scores stay hidden until all have submitted.",
  "skb.sent.adjudication": "Every sheet is in, but they differ by more than the margin: the panel chair will adjudicate.",
  "skb.sent.final": "Every sheet is in; the component score is final.",
  "skb.others": "Every assessor's score",
  "skb.pick": "Choose one level for every criterion.",
  "skb.queue": "Adjudication queue",
  "skb.queueHint": "Candidates whose assessors differ by more than the margin: the chair sets the score with a reason (recorded in the audit log).",
  "skb.severityHint": "Positive: harsher than the panel's average; negative: more lenient (logits). Infit/outfit near 1 means consistent scoring; above 1.5, erratic.",
  "skb.queueEmpty": "Nobody is awaiting adjudication.",
  "skb.adjScore": "The chair's score (0–100)",
  "skb.adjReason": "Reason",
  "skb.adjudicate": "Set the score",
  "skb.chairRecused": "The chair declared a conflict of interest with this candidate: an administrator sets the score.",
  "skb.adminQueue": "Awaiting the administrator's adjudication (the chair of panel {p} is recused)",
  "skb.adminScore": "The administrator's score (0–100)",
  "skb.candidates": "Candidates of the panel",
  "skb.agreement": "Agreement between assessors",
  "skb.statistic": "Statistic",
  "skb.value": "Value",
  "skb.ci": "95% confidence interval",
  "skb.icc.A1": "ICC(A,1): absolute agreement, one assessor",
  "skb.icc.Ak": "ICC(A,k): absolute agreement, panel mean",
  "skb.icc.C1": "ICC(C,1): consistency, one assessor",
  "skb.icc.Ck": "ICC(C,k): consistency, panel mean",
  "skb.alpha": "Krippendorff's alpha (ordinal)",
  "skb.componentAlpha": "Krippendorff's alpha, every panel of this component ({n} panels)",
  "skb.componentIcc1": "ICC(1): one assessor, every panel of this component ({n} candidates with {k} scores)",
  "skb.componentIcck": "ICC(k): mean of {k} assessors, every panel of this component",
  "skb.componentLeftOut": "{m} candidates with another number of scores (sheets still to come, or recusals) are left out of the ICC across panels.",
  "skb.fair": "Fair score (model)",
  "skb.basis.raw": "Policy: the ranking uses the panel's final scores (mean/median). The fair score shows the score had the assessors been equally severe.",
  "skb.basis.fair": "Policy: the ranking uses the fair scores (corrected for assessor severity), except adjudicated ones.",
  "skb.severity": "Assessor severity (many-facet Rasch model)",
  "skb.assessor": "Assessor",
  "skb.sevCol": "Severity",
  "skb.plotLabel": "Each assessor's severity in logits with its 95% interval: {list}",
  "skb.lenient": "← more lenient",
  "skb.harsh": "harsher →",
  "skb.reliability": "Assessor separation reliability: {r}",
  "skb.candLogin": "See your interview schedule",
  "skb.receipt": "SKD receipt code",
  "skb.receiptHint": "Paste the code starting SELEKSI-R1: shown on screen at the end of the SKD test (your receipt; the after-the-test pages take it too). Lost it? See it again on your registration account (My registration, /recruitment/me), or ask the committee, bringing your ID card. The date of birth is no longer used: it is published with the results.",
  "skb.badReceipt": "The receipt code is not valid for this registration number. Paste the whole code from the end of your SKD test.",
  "skb.show": "Show",
  "skb.interviews": "Interview schedule",
  "skb.zoneHint": "Times are shown in your time zone (WIB, WITA or WIT). Seleksi hosts no video: the link opens the panel's meeting room.",
  "skb.noInterview": "No interview is scheduled for you yet.",
  "skb.breakdown": "SKB score breakdown",
  "skb.component": "Component",
  "skb.weight": "Weight",
  "skb.total": "SKB score",
  "skb.finalLine": "Final score (SKD 40% + SKB 60%): {f} · result {code}. The official announcement is on the results page.",
  "skb.move": "Move the interview (until {h} hours before)",
  "skb.moveTo": "Move to {when}",
  "skb.noMove": "The interview can no longer be moved (until {h} hours before) or no slot is free.",
  "skb.moved": "Moved. The new time is also sent to your email.",
  "skb.choose": "{c}: choose your interview time",
  "skb.chooseAt": "Choose {when}",
  "skb.noneFree": "No free slot yet; check again later.",
  "err.too_late": "Past the deadline for moving the interview",
  "err.bad_sheet": "Sheet refused",
  "err.finalised": "The score is final; a change is no longer accepted",
  "err.not_in_slot": "The candidate has no slot with this panel",
  "err.recused": "You declared a conflict of interest",
  "err.not_chair": "Only the panel chair",
  "err.bad_field": "Invalid field",
  "err.too_few_assessors": "The panel would have fewer than 2 assessors: a substitute is needed",
});

(function () {
  const S = window.Seleksi;
  const el = S.el;
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  // staff: the page's S.staffSession (the assessor's token on the assessor's and
  // the chair's pages, the admin's own on the admin's page; none for candidates).
  const K = { staff: null, data: null, current: null };

  /** The error's text in the reader's language, and the server's detail (English). */
  function errText(err) {
    const head = S.errorText(err.code, err.data);
    return err.message && err.message !== err.code ? `${head}: ${err.message}` : head;
  }

  function lang(obj, base) {
    return obj[`${base}_${S.lang === "en" ? "en" : "id"}`];
  }

  // -- the assessor's page --------------------------------------------------------------

  async function loadAssessor() {
    if (!K.staff.token) return;
    try {
      K.data = await K.staff.call("GET", "/api/skb/me");
    } catch (err) {
      return; // a 401 has logged out (K.staff.call); the login form says why
    }
    K.staff.show();
    $("staff-name").textContent = store.getItem("seleksi.skb.name") || "";
    renderAssessor();
  }

  function stateText(row) {
    if (row.recused) return S.t("skb.state.recused");
    return S.t(`skb.state.${row.state}`);
  }

  const ZONE_HOURS = { WIB: 7, WITA: 8, WIT: 9 };

  /** The calendar day (YYYY-MM-DD) of an instant in one of Indonesia's zones. */
  function dayIn(ms, zone) {
    return new Date(ms + ZONE_HOURS[zone] * 3600e3).toISOString().slice(0, 10);
  }

  function renderAssessor() {
    const todayOnly = $("today-only").checked;
    const sections = K.data.panels.map((p) => {
      const shown = todayOnly
        ? p.slots.filter((s) => dayIn(Date.parse(s.starts_at), s.zone) === dayIn(Date.now(), s.zone))
        : p.slots;
      const heading = el("h2", {}, S.t("skb.panel", { code: p.panel, component: lang(p.component, "name") }));
      const chair = p.chair
        ? el("p", {}, el("a", { href: `skb-chair.html?panel=${encodeURIComponent(p.panel)}` }, S.t("skb.chairLink")))
        : null;
      const rows = shown.map((s) =>
        el("tr", {},
          el("td", {}, S.lang === "en" ? s.local_en : s.local_id),
          el("td", {}, s.registration_number || S.t("skb.empty")),
          el("td", {}, s.name || ""),
          el("td", {}, s.registration_number ? stateText(s) : ""),
          el("td", {}, s.registration_number && !s.recused && s.state !== "final"
            ? el("button", { type: "button", class: "small", onclick: () => openSheet(p, s) },
              S.t("skb.scoreBtn", { regno: s.registration_number }))
            : s.final || ""),
        ));
      return el("section", { class: "card" }, heading, chair,
        el("table", { class: "grid" },
          el("thead", {}, el("tr", {},
            ...["skb.time", "skb.regno", "skb.name", "skb.state", "skb.score"].map((k) =>
              el("th", { scope: "col" }, S.t(k))))),
          el("tbody", {}, rows)),
        shown.length ? null : el("p", { class: "hint" }, S.t("skb.noneToday")));
    });
    $("panels").replaceChildren(...sections);
    if (K.current) {
      const p = K.data.panels.find((x) => x.panel === K.current.panel);
      const s = p && p.slots.find((x) => x.registration_number === K.current.regno);
      if (p && s) renderSheet(p, s);
    }
  }

  function openSheet(panel, slot) {
    K.current = { panel: panel.panel, regno: slot.registration_number };
    $("sheet-error").textContent = "";
    $("sheet-status").textContent = "";
    renderSheet(panel, slot);
    $("sheet").classList.remove("hidden");
    $("sheet-title").focus?.();
    $("sheet").scrollIntoView();
  }

  function renderSheet(panel, slot) {
    $("sheet-title").textContent = S.t("skb.sheetTitle", { name: slot.name, regno: slot.registration_number });
    $("sheet-slot").replaceChildren(
      S.lang === "en" ? slot.local_en : slot.local_id, " · ",
      el("a", { href: slot.meeting_url, target: "_blank", rel: "noopener" }, S.t("skb.open")));
    $("declare").classList.toggle("hidden", slot.declared || slot.recused);
    $("rubric").classList.toggle("hidden", !slot.declared || slot.recused || slot.state === "final");
    const mine = (slot.mine && slot.mine.points) || {};
    const criteria = panel.component.rubric.criteria.map((c) =>
      el("fieldset", { class: "skb-criterion" },
        el("legend", {}, lang(c, "name")),
        ...c.levels.map((lv) => {
          const id = `lv-${c.code}-${lv.points}`;
          return el("div", { class: "skb-level" },
            el("input", { type: "radio", name: c.code, id, value: lv.points, checked: mine[c.code] === lv.points }),
            el("label", { for: id }, `${lv.points} · ${lang(lv, "label")}`));
        })));
    $("criteria").replaceChildren(...criteria);
    const others = slot.sheets
      ? el("div", {}, el("h3", {}, S.t("skb.others")),
        el("ul", {}, slot.sheets.map((x) => el("li", {}, `${x.assessor}: ${x.score}`))))
      : "";
    $("sheet-others").replaceChildren(others);
    if (slot.recused) $("sheet-status").textContent = S.t("skb.recusedDone");
  }

  async function declare(conflict) {
    $("sheet-error").textContent = "";
    try {
      await K.staff.call("POST", "/api/skb/declarations", {
        panel: K.current.panel,
        registration_number: K.current.regno,
        conflict,
        note: $("coi-note").value,
      });
      await loadAssessor();
    } catch (err) {
      $("sheet-error").textContent = errText(err);
    }
  }

  async function submitSheet(ev) {
    ev.preventDefault();
    $("sheet-error").textContent = "";
    const points = {};
    let missing = false;
    $("criteria").querySelectorAll("fieldset").forEach((fs) => {
      const picked = fs.querySelector("input:checked");
      if (picked) points[picked.name] = Number(picked.value);
      else missing = true;
    });
    if (missing) {
      $("sheet-error").textContent = S.t("skb.pick");
      return;
    }
    try {
      const res = await K.staff.call("POST", "/api/skb/sheets", {
        panel: K.current.panel,
        registration_number: K.current.regno,
        points,
      });
      await loadAssessor();
      $("sheet-status").textContent = `${S.t("skb.sent", { score: res.score })} ${S.t(`skb.sent.${res.state}`)}`;
    } catch (err) {
      $("sheet-error").textContent = errText(err);
    }
  }

  // -- the chair's page -----------------------------------------------------------------

  async function loadChair() {
    const panel = S.query("panel") || "";
    try {
      K.data = await K.staff.call("GET", `/api/skb/chair?panel=${encodeURIComponent(panel)}`);
    } catch (err) {
      $("chair-error").textContent = errText(err);
      return;
    }
    renderChair();
  }

  // An interval without an upper bound is not available ("–"); one without a
  // lower bound only is unbounded below (ICC(A,k) of a small panel).
  function fmtCi(e) {
    if (e.high === null) return "–";
    return `${e.low === null ? "−∞" : e.low.toFixed(3)} – ${e.high.toFixed(3)}`;
  }

  function renderChair() {
    const d = K.data;
    $("panel-title").textContent = S.t("skb.panel", { code: d.panel, component: lang(d, "component_name") });
    // A candidate the chair is recused from never comes here (the server shows
    // the chair nothing of their scoring): the administrator's page lists them.
    const queue = d.candidates.filter((c) => c.state === "adjudication")
      .map((c) => adjudicationForm(c, "skb.adjScore", (ev) => adjudicate(ev, K.data.panel, c.registration_number, loadChair)));
    $("queue").replaceChildren(...queue);
    $("queue-empty").classList.toggle("hidden", queue.length > 0);
    $("cand-rows").replaceChildren(...d.candidates.map((c) =>
      el("tr", {},
        el("td", {}, c.registration_number), el("td", {}, c.name),
        el("td", {}, c.submitted === null ? "–" : `${c.submitted} / ${c.expected}`),
        el("td", {}, S.t(`skb.state.${c.state}`)),
        el("td", { class: "num" }, c.final || "–"),
        el("td", { class: "num" }, c.fair || "–"))));
    $("basis").textContent = S.t(`skb.basis.${d.score_basis}`);
    const a = d.agreement;
    const rows = [];
    if (a.icc) {
      for (const [key, label] of [["ICC(A,1)", "A1"], ["ICC(A,k)", "Ak"], ["ICC(C,1)", "C1"], ["ICC(C,k)", "Ck"]]) {
        const e = a.icc[key];
        rows.push(el("tr", {}, el("td", {}, S.t(`skb.icc.${label}`)), el("td", { class: "num" }, e.value.toFixed(3)), el("td", {}, fmtCi(e))));
      }
    }
    if (a.alpha) {
      rows.push(el("tr", {}, el("td", {}, S.t("skb.alpha")), el("td", { class: "num" }, a.alpha.value.toFixed(3)), el("td", {}, fmtCi(a.alpha))));
    }
    if (a.component_alpha) {
      rows.push(el("tr", {}, el("td", {}, S.t("skb.componentAlpha", { n: a.component_panels })),
        el("td", { class: "num" }, a.component_alpha.value.toFixed(3)), el("td", {}, fmtCi(a.component_alpha))));
    }
    const ci = a.component_icc;
    if (ci) {
      rows.push(el("tr", {}, el("td", {}, S.t("skb.componentIcc1", { n: ci.n, k: ci.k })),
        el("td", { class: "num" }, ci["ICC(1)"].value.toFixed(3)), el("td", {}, fmtCi(ci["ICC(1)"]))));
      rows.push(el("tr", {}, el("td", {}, S.t("skb.componentIcck", { k: ci.k })),
        el("td", { class: "num" }, ci["ICC(k)"].value.toFixed(3)), el("td", {}, fmtCi(ci["ICC(k)"]))));
    }
    $("agree-rows").replaceChildren(...rows);
    $("agree-note").textContent = [a.icc_note, a.alpha_note,
      ci && ci.left_out ? S.t("skb.componentLeftOut", { m: ci.left_out }) : null,
    ].filter(Boolean).join(" ");
    const sev = d.severity;
    const list = sev.assessors || [];
    $("sev-rows").replaceChildren(...list.map((x) =>
      el("tr", {}, el("td", {}, x.assessor), el("td", { class: "num" }, x.severity.toFixed(2)),
        el("td", { class: "num" }, x.se.toFixed(2)), el("td", { class: "num" }, x.infit.toFixed(2)),
        el("td", { class: "num" }, x.outfit.toFixed(2)))));
    $("sev-plot").replaceChildren(list.length ? severityPlot(list) : "");
    $("sev-note").textContent = sev.note || (list.length ? S.t("skb.reliability", { r: sev.reliability.toFixed(2) }) : "");
  }

  /** A candidate awaiting adjudication: their sheets, and a score and reason to set. */
  function adjudicationForm(c, scoreLabel, onsubmit) {
    const sid = `adj-${c.registration_number}`;
    const who = el("p", {}, el("strong", {}, `${c.registration_number} · ${c.name}`), " — ",
      (c.sheets || []).map((x) => `${x.assessor}: ${x.score}`).join(", "));
    return el("form", { class: "skb-adjudication", "aria-label": `${c.registration_number} ${c.name}`, onsubmit },
      who,
      el("label", { for: `${sid}-score` }, S.t(scoreLabel)),
      el("input", { id: `${sid}-score`, name: "score", type: "number", min: 0, max: 100, step: "0.001", required: true }),
      el("label", { for: `${sid}-reason` }, S.t("skb.adjReason")),
      el("input", { id: `${sid}-reason`, name: "reason", required: true }),
      el("button", { type: "submit", class: "primary" }, S.t("skb.adjudicate")),
      el("p", { class: "error-text", role: "alert" }));
  }

  /** Severities as dots with 95% whiskers on one logit axis (SVG, labelled for screen readers). */
  function severityPlot(list) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = (tag, attrs, text) => {
      const n = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
      if (text !== undefined) n.textContent = text;
      return n;
    };
    const lim = Math.max(1, ...list.map((x) => Math.abs(x.severity) + 1.96 * x.se));
    const W = 560, left = 110, right = 20, rowH = 28, top = 20, H = top + rowH * list.length + 40;
    const x = (v) => left + ((v + lim) / (2 * lim)) * (W - left - right);
    const label = S.t("skb.plotLabel", {
      list: list.map((a) => `${a.assessor} ${a.severity.toFixed(2)} ± ${(1.96 * a.se).toFixed(2)}`).join("; "),
    });
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": label, class: "skb-plot" });
    root.append(svg("title", {}, label));
    root.append(svg("line", { x1: x(0), x2: x(0), y1: top - 10, y2: H - 30, stroke: "#4a5462", "stroke-dasharray": "4 3" }));
    list.forEach((a, i) => {
      const y = top + rowH * i + rowH / 2;
      root.append(svg("text", { x: left - 8, y: y + 4, "text-anchor": "end", fill: "#1b1f24", "font-size": 13 }, a.assessor));
      root.append(svg("line", { x1: x(a.severity - 1.96 * a.se), x2: x(a.severity + 1.96 * a.se), y1: y, y2: y, stroke: "#0b4a86", "stroke-width": 2 }));
      root.append(svg("circle", { cx: x(a.severity), cy: y, r: 5, fill: "#0b4a86" }));
    });
    const axisY = H - 30;
    root.append(svg("line", { x1: left, x2: W - right, y1: axisY, y2: axisY, stroke: "#1b1f24" }));
    for (const v of [-lim, -lim / 2, 0, lim / 2, lim]) {
      root.append(svg("text", { x: x(v), y: axisY + 16, "text-anchor": "middle", fill: "#1b1f24", "font-size": 12 }, v.toFixed(1)));
    }
    root.append(svg("text", { x: left, y: H - 2, fill: "#1b1f24", "font-size": 12 }, S.t("skb.lenient")));
    root.append(svg("text", { x: W - right, y: H - 2, "text-anchor": "end", fill: "#1b1f24", "font-size": 12 }, S.t("skb.harsh")));
    return root;
  }

  // One adjudication for the chair's page and the administrator's (a candidate
  // whose chair is recused): the same request, then the page reloads.
  async function adjudicate(ev, panel, regno, reload) {
    ev.preventDefault();
    const form = ev.target;
    const err = form.querySelector(".error-text");
    err.textContent = "";
    try {
      await K.staff.call("POST", "/api/skb/adjudications", {
        panel,
        registration_number: regno,
        score: form.elements.score.value,
        reason: form.elements.reason.value,
      });
      await reload();
    } catch (e) {
      err.textContent = errText(e);
    }
  }

  // -- the administrator's page ---------------------------------------------------------

  const OFFSETS = { WIB: "+07:00", WITA: "+08:00", WIT: "+09:00" };

  async function loadAdmin() {
    if (!K.staff.token) return;
    try {
      K.data = await K.staff.call("GET", "/api/skb/admin");
    } catch (err) {
      if (err.status === 403) K.staff.logout(); // not an administrator's token
      return; // a 401 has logged out (K.staff.call); the login form says why
    }
    K.staff.show();
    renderAdmin();
  }

  function renderAdmin() {
    const d = K.data;
    $("plan-list").replaceChildren(...d.plans.map((p) => el("li", {}, S.t("skb.planLine", {
      f: p.formation,
      parts: p.plan.components.map((c) => `${c.code} ${c.weight}%`).join(", "),
      caps: p.caps,
    }))));
    const chosen = $("s-panel").value;
    $("s-panel").replaceChildren(...d.panels.map((p) => el("option", { value: p.panel }, p.panel)));
    if (chosen) $("s-panel").value = chosen;
    $("panel-list").replaceChildren(...d.panels.map((p) => {
      const members = p.members.map((m) => (m.chair ? `${m.username} (${S.t("skb.chairMark")})` : m.username)).join(", ");
      const title = S.t("skb.panelTable", { p: p.panel, f: p.formation, c: p.component, m: members });
      const rows = p.slots.map((sl) => {
        const when = S.lang === "en" ? sl.local_en : sl.local_id;
        let who = sl.registration_number;
        if (!who) {
          const id = `assign-${sl.slot}`;
          who = el("form", { class: "skb-inline", onsubmit: (ev) => assign(ev, sl.slot) },
            el("label", { for: id, class: "sr-only" }, S.t("skb.assignTo", { when })),
            el("select", { id, name: "regno" }, el("option", { value: "" }, "–"),
              p.unscheduled.map((r) => el("option", { value: r }, r))),
            el("button", { type: "submit", class: "small" }, S.t("skb.assign")));
        }
        return el("tr", {}, el("td", {}, when), el("td", {}, who),
          el("td", {}, el("a", { href: sl.meeting_url, target: "_blank", rel: "noopener" }, S.t("skb.open"))));
      });
      // Candidates the chair is recused from, awaiting adjudication: the administrator's.
      const queue = (p.adjudication || []).map((c) => adjudicationForm(c, "skb.adminScore",
        (ev) => adjudicate(ev, p.panel, c.registration_number, loadAdmin)));
      return el("section", { class: "card" }, el("h2", {}, title),
        el("table", { class: "grid" },
          el("thead", {}, el("tr", {}, ["skb.time", "skb.regno", "skb.meeting"].map((k) => el("th", { scope: "col" }, S.t(k))))),
          el("tbody", {}, rows)),
        queue.length ? el("h3", {}, S.t("skb.adminQueue", { p: p.panel })) : null,
        queue.length ? el("p", { class: "hint" }, S.t("skb.chairRecused")) : null,
        ...queue);
    }));
  }

  async function adminAct(fn) {
    $("admin-error").textContent = "";
    $("admin-status").textContent = "";
    try {
      const text = await fn();
      await loadAdmin();
      $("admin-status").textContent = text;
    } catch (err) {
      $("admin-error").textContent = errText(err);
    }
  }

  function assign(ev, slot) {
    ev.preventDefault();
    const regno = ev.target.elements.regno.value;
    adminAct(async () => {
      await K.staff.call("POST", "/api/skb/assign", { slot, registration_number: regno });
      return S.t("skb.assigned", { r: regno });
    });
  }

  function wireAdmin() {
    K.staff = S.staffSession({
      storageKey: "seleksi.skb.admin",
      roles: ["admin"],
      screens: { login: "screen-login", main: ["screen-main"] },
      onLogin: loadAdmin,
      onLogout: () => location.reload(),
    });
    $("plan-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      adminAct(async () => {
        let doc;
        try {
          doc = JSON.parse($("plan-json").value);
        } catch (_) {
          throw new S.ApiError(400, "bad_json", "JSON");
        }
        const res = await K.staff.call("POST", "/api/skb/plans", doc);
        return S.t("skb.planSaved", { f: res.formation });
      });
    });
    $("assessor-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      adminAct(async () => {
        const u = $("a-username").value.trim();
        await K.staff.call("POST", "/api/skb/assessors", { username: u, name: $("a-name").value, password: $("a-password").value });
        $("a-username").value = $("a-name").value = $("a-password").value = "";
        return S.t("skb.assessorAdded", { u });
      });
    });
    $("panel-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      adminAct(async () => {
        const code = $("p-code").value.trim();
        await K.staff.call("POST", "/api/skb/panels", {
          code,
          formation: $("p-formation").value.trim(),
          component: $("p-component").value.trim(),
          members: $("p-members").value.split(",").map((x) => x.trim()).filter(Boolean),
          chair: $("p-chair").value.trim(),
        });
        return S.t("skb.panelCreated", { p: code });
      });
    });
    $("slots-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      adminAct(async () => {
        const off = OFFSETS[$("s-zone").value];
        const day = $("s-date").value;
        const res = await K.staff.call("POST", "/api/skb/slots", {
          panel: $("s-panel").value,
          windows: [[`${day}T${$("s-from").value}:00${off}`, `${day}T${$("s-to").value}:00${off}`]],
          minutes: Number($("s-minutes").value),
          gap_minutes: Number($("s-gap").value),
          meeting_url: $("s-url").value.trim(),
          zone: $("s-zone").value,
        });
        return S.t("skb.slotsCreated", { n: res.slots.length });
      });
    });
    $("cat-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      adminAct(async () => {
        const res = await K.staff.call("POST", "/api/skb/cat-scores/import", {
          exam_code: $("c-exam").value.trim(), component: $("c-component").value.trim(),
        });
        return S.t("skb.catImported", { n: res.stored, k: res.kept });
      });
    });
    $("publish-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      adminAct(async () => {
        const res = await K.staff.call("POST", "/api/skb/publish", {
          exam_code: $("pub-exam").value.trim(), published_at: $("pub-date").value,
        });
        return S.t("skb.published", { root: res.root.slice(0, 16) + "…" });
      });
    });
    $("remind").addEventListener("click", () => adminAct(async () => {
      const res = await K.staff.call("POST", "/api/skb/reminders", {});
      return S.t("skb.reminded", { n: res.queued, x: res.no_address });
    }));
    $("verify").addEventListener("click", () => adminAct(async () => {
      const res = await K.staff.call("POST", "/api/admin/results/verify", {});
      if (!res.ok) throw new S.ApiError(409, "not_verified", S.t("skb.notVerified", { p: res.problems.join("; ") }));
      return S.t("skb.verified", { n: res.checks.length });
    }));
    document.addEventListener("seleksi:lang", () => K.data && renderAdmin());
    loadAdmin();
  }

  // -- the candidate's page -------------------------------------------------------------

  /** The pasted receipt code without the spaces and line breaks a copy adds. */
  function receiptText() {
    return $("receipt").value.replace(/\s+/g, "");
  }

  async function showCandidate(ev) {
    if (ev) ev.preventDefault();
    $("cand-error").textContent = "";
    try {
      K.data = await S.api("POST", "/api/skb/candidate", {
        registration_number: $("regno").value.trim(),
        receipt: receiptText(),
      });
    } catch (err) {
      // A refused receipt in the page's words (the shared text speaks of PINs).
      $("cand-error").textContent = err.code === "bad_credentials"
        ? S.t("skb.badReceipt") : S.errorText(err.code, err.data);
      return;
    }
    $("screen-login").classList.add("hidden");
    $("screen-main").classList.remove("hidden");
    renderCandidate();
  }

  function renderCandidate() {
    const d = K.data;
    $("cand-who").textContent = `${d.name} · ${d.registration_number}`;
    $("iv-list").replaceChildren(...d.interviews.map((iv) =>
      el("li", {}, el("strong", {}, S.lang === "en" ? iv.local_en : iv.local_id), ` · ${lang(iv, "component_name")} · `,
        el("a", { href: iv.meeting_url, target: "_blank", rel: "noopener" }, S.t("skb.open")),
        iv.free.length
          ? el("details", { class: "skb-move" },
            el("summary", {}, S.t("skb.move", { h: iv.notice_hours })),
            el("ul", {}, iv.free.map((f) => el("li", {},
              el("button", { type: "button", class: "small", onclick: () => move(f.slot) },
                S.t("skb.moveTo", { when: S.lang === "en" ? f.local_en : f.local_id }))))))
          : el("p", { class: "hint" }, S.t("skb.noMove", { h: iv.notice_hours })))));
    $("iv-list").append(...d.to_choose.map((tc) =>
      el("li", {}, el("strong", {}, S.t("skb.choose", { c: lang(tc, "component_name") })),
        tc.free.length
          ? el("ul", {}, tc.free.map((f) => el("li", {},
            el("button", { type: "button", class: "small", onclick: () => move(f.slot) },
              S.t("skb.chooseAt", { when: S.lang === "en" ? f.local_en : f.local_id })))))
          : el("p", { class: "hint" }, S.t("skb.noneFree")))));
    $("iv-empty").classList.toggle("hidden", d.interviews.length + d.to_choose.length > 0);
    $("breakdown").classList.toggle("hidden", !d.skb);
    if (d.skb) {
      $("bd-rows").replaceChildren(...d.skb.components.map((c) =>
        el("tr", {}, el("td", {}, lang(c, "name")), el("td", { class: "num" }, `${c.weight}%`), el("td", { class: "num" }, c.score))));
      $("bd-total").textContent = d.skb.total;
      $("bd-final").textContent = d.skb.final ? S.t("skb.finalLine", { f: d.skb.final, code: d.skb.code }) : "";
    }
  }

  async function move(slot) {
    $("move-error").textContent = "";
    try {
      K.data = await S.api("POST", "/api/skb/reschedule", {
        registration_number: $("regno").value.trim(),
        receipt: receiptText(),
        slot,
      });
      renderCandidate();
      $("move-status").textContent = S.t("skb.moved");
    } catch (err) {
      $("move-error").textContent = errText(err);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.body.dataset.page;
    if (page === "assessor") {
      K.staff = S.staffSession({
        storageKey: "seleksi.skb",
        roles: ["assessor"],
        screens: { login: "screen-login", main: ["screen-main"] },
        onLogin: async (reply) => {
          store.setItem("seleksi.skb.name", reply.name || "");
          await loadAssessor();
        },
        onLogout: () => location.reload(),
      });
      $("no-conflict").addEventListener("click", () => declare(false));
      $("conflict").addEventListener("click", () => declare(true));
      $("rubric").addEventListener("submit", submitSheet);
      $("today-only").addEventListener("change", () => K.data && renderAssessor());
      document.addEventListener("seleksi:lang", () => K.data && renderAssessor());
      loadAssessor();
    } else if (page === "chair") {
      // The chair is an assessor: the assessor's page's token, no login of its own.
      // A login that stopped working is taken up on the assessor's page, which
      // says why (the same session key).
      K.staff = S.staffSession({
        storageKey: "seleksi.skb",
        form: null,
        logout: null,
        onLogout: () => location.assign("skb-assessor.html"),
      });
      document.addEventListener("seleksi:lang", () => K.data && renderChair());
      loadChair();
    } else if (page === "admin") {
      wireAdmin();
    } else if (page === "candidate") {
      $("cand-form").addEventListener("submit", showCandidate);
      document.addEventListener("seleksi:lang", () => K.data && renderCandidate());
    }
  });
})();
