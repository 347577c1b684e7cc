// Seleksi centre page: every exam site's link, sync lag, pending records,
// sessions running, results checked, verification failures and each site's
// checkpoint keys
// (GET /api/centre/sites, admin token), refreshed every few seconds.
"use strict";

// This page's texts, beside the shared ones in i18n.js (Indonesian first).
Object.assign(SELEKSI_TEXTS.id, {
  "centre.title": "Pusat: tilok ujian",
  "centre.sites": "Tilok dan sinkronisasinya",
  "centre.explain": "Tilok tetap menjalankan ujian saat jalur ke pusat putus; jawaban, log audit dan hasil dikirim begitu jalur pulih.",
  "centre.site": "Tilok",
  "centre.link": "Jalur",
  "centre.lag": "Tertinggal",
  "centre.pending": "Menunggu dikirim",
  "centre.running": "Sesi berjalan",
  "centre.received": "Rekaman diterima",
  "centre.results": "Hasil diperiksa pusat",
  "centre.problems": "Kegagalan verifikasi",
  "centre.problemsTitle": "Kegagalan verifikasi",
  "centre.problemsHint": "Rekaman yang ditolak pusat. Lihat docs/sites.md, \"Bila tilok gagal diverifikasi\".",
  "centre.none": "Belum ada tilok. Buat paket tilok dengan: seleksi site package.",
  "centre.online": "Terhubung",
  "centre.offline": "Terputus",
  "centre.lastContact": "kontak terakhir {t}",
  "centre.never": "belum pernah menghubungi",
  "centre.checked": "{equal} sama, {differs} berbeda, {pending} menunggu",
  "centre.noProblem": "tidak ada",
  "centre.updated": "Diperbarui {t}",
  "centre.keysTitle": "Kunci checkpoint tilok",
  "centre.keysHint": "Kunci yang memverifikasi baris checkpoint tiap tilok: yang pertama diambil pada sinkronisasi pertama, pengganti didaftarkan dengan seleksi site register-key. Lihat docs/sites.md, \"A site's checkpoint key is replaced\".",
  "centre.keyId": "Kunci",
  "centre.keyRange": "Checkpoint",
  "centre.keyRegistered": "Didaftarkan",
  "centre.keyReason": "Alasan",
  "centre.keyFrom": "sejak no. {from}",
  "centre.keyFromUntil": "no. {from} sampai {last}",
  "centre.keyInUse": "dipakai",
  "centre.keyReplaced": "diganti",
  "centre.keyFirst": "diambil pada sinkronisasi pertama",
  "centre.keyBy": "{t} oleh {by}",
});
Object.assign(SELEKSI_TEXTS.en, {
  "centre.title": "Centre: exam sites",
  "centre.sites": "Sites and their sync",
  "centre.explain": "A site keeps testing when its line to the centre is cut; answers, audit log and results are sent as soon as the line returns.",
  "centre.site": "Site",
  "centre.link": "Link",
  "centre.lag": "Sync lag",
  "centre.pending": "Pending records",
  "centre.running": "Sessions running",
  "centre.received": "Records received",
  "centre.results": "Results checked at the centre",
  "centre.problems": "Verification failures",
  "centre.problemsTitle": "Verification failures",
  "centre.problemsHint": "Records the centre refused. See docs/sites.md, \"When a site fails verification\".",
  "centre.none": "No site yet. Make a site package with: seleksi site package.",
  "centre.online": "Online",
  "centre.offline": "Offline",
  "centre.lastContact": "last contact {t}",
  "centre.never": "never in contact",
  "centre.checked": "{equal} equal, {differs} differ, {pending} pending",
  "centre.noProblem": "none",
  "centre.updated": "Updated {t}",
  "centre.keysTitle": "Sites' checkpoint keys",
  "centre.keysHint": "The keys that verify each site's checkpoint lines: the first taken at the first sync, replacements registered with seleksi site register-key. See docs/sites.md, \"A site's checkpoint key is replaced\".",
  "centre.keyId": "Key",
  "centre.keyRange": "Checkpoints",
  "centre.keyRegistered": "Registered",
  "centre.keyReason": "Reason",
  "centre.keyFrom": "from no. {from}",
  "centre.keyFromUntil": "no. {from} to {last}",
  "centre.keyInUse": "in use",
  "centre.keyReplaced": "replaced",
  "centre.keyFirst": "taken at the first sync",
  "centre.keyBy": "{t} by {by}",
});

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const el = S.el;
  const C = { data: null };
  const staff = S.staffSession({
    storageKey: "seleksi.admin",
    roles: ["admin"],
    screens: { login: "screen-login", main: ["screen-sites"] },
    refresh,
    refreshMs: 5000,
  });

  async function refresh() {
    try {
      C.data = await staff.call("GET", "/api/centre/sites");
      $("load-error").textContent = "";
      render();
    } catch (err) {
      if (err.status === 401) return; // logged out
      $("load-error").textContent = S.errorText(err.code);
    }
  }

  function render() {
    const d = C.data;
    if (!d) return;
    const now = d.now;
    $("updated").textContent = S.t("centre.updated", { t: S.fmtClock(now) });
    const rows = d.sites.map((s) => {
      const contact = s.last_contact_at
        ? S.t("centre.lastContact", { t: S.fmtAgo(now - s.last_contact_at) })
        : S.t("centre.never");
      const state = el("span", { class: "link-state " + (s.online ? "online" : "offline") },
        S.t(s.online ? "centre.online" : "centre.offline"));
      const r = s.results;
      return el("tr", { dataset: { site: s.code } },
        el("th", { scope: "row" }, s.code, el("span", { class: "sub" }, s.name)),
        el("td", { class: "link" }, state, el("span", { class: "sub" }, contact)),
        el("td", { class: "num lag" }, S.fmtDuration(s.lag_seconds)),
        el("td", { class: "num pending" }, String(s.pending)),
        el("td", { class: "num running" }, String(s.sessions_running)),
        el("td", { class: "num received" }, String(s.received)),
        el("td", { class: "results" + (r.differs ? " bad" : "") },
          S.t("centre.checked", { equal: r.equal, differs: r.differs, pending: r.pending })),
        el("td", { class: "problems" + (s.problems.length ? " bad" : "") },
          s.problems.length ? String(s.problems.length) : S.t("centre.noProblem")));
    });
    $("site-rows").replaceChildren(...rows);
    $("no-sites").classList.toggle("hidden", d.sites.length > 0);
    const problems = d.sites.flatMap((s) =>
      s.problems.map((p) => el("li", {}, el("span", { class: "site" }, s.code), p.message)));
    $("problem-list").replaceChildren(...problems);
    $("problems").classList.toggle("hidden", problems.length === 0);
    const keys = d.sites.flatMap((s) => (s.keys || []).map((k) => keyRow(s, k)));
    $("key-rows").replaceChildren(...keys);
    $("keys").classList.toggle("hidden", keys.length === 0);
  }

  // A date and time in UTC, the same for every reader at the centre and the sites.
  const utc = (epoch) => new Date(epoch * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";

  function keyRow(s, k) {
    const range = k.until === null
      ? S.t("centre.keyFrom", { from: k.from_n })
      : S.t("centre.keyFromUntil", { from: k.from_n, last: k.until - 1 });
    const state = S.t(k.until === null ? "centre.keyInUse" : "centre.keyReplaced");
    const registered = k.registered_at === null
      ? S.t("centre.keyFirst")
      : S.t("centre.keyBy", { t: utc(k.registered_at), by: k.registered_by });
    return el("tr", { dataset: { keySite: s.code, key: k.key_id } },
      el("th", { scope: "row" }, s.code),
      el("td", { class: "key-id" }, el("code", {}, k.key_id)),
      el("td", { class: "range" }, range, el("span", { class: "sub" }, state)),
      el("td", { class: "registered" }, registered),
      el("td", { class: "reason" }, k.reason || "–"));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.addEventListener("seleksi:lang", render);
    staff.show();
  });
})();
