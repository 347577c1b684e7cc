// Seleksi site page (site.html, for the site's operator): the installed
// package, each session's item key (released or sealed, and from when the
// centre gives it), the sync to the centre; releasing a key from the centre
// or from the sealed sheet, and "sync now". REST (admin token):
// GET /api/site/status, POST /api/site/keys, POST /api/site/sync — the same
// functions `seleksi site status|key|sync` call (exam_server.sites.operator).
"use strict";

// This page's texts, beside the shared ones in i18n.js (Indonesian first).
Object.assign(SELEKSI_TEXTS.id, {
  "site.title": "Operator tilok",
  "site.noPackage": "Belum ada paket tilok terpasang. Pasang dengan: seleksi site install.",
  "site.package": "Paket terpasang",
  "site.site": "Tilok",
  "site.sessions": "Sesi",
  "site.built": "Dibuat pusat",
  "site.signature": "Tanda tangan",
  "site.signatureOk": "Sah: ditandatangani kunci pusat {key}, diperiksa saat dipasang {t}",
  "site.keys": "Sesi dan kunci soal",
  "site.keysHint": "Soal setiap sesi terkunci sampai kuncinya dibuka: dari pusat, atau dari amplop kunci tersegel bila pusat tidak dapat dihubungi.",
  "site.session": "Sesi",
  "site.starts": "Mulai",
  "site.status": "Status",
  "site.key": "Kunci soal",
  "site.actions": "Tindakan",
  "site.status.scheduled": "terjadwal",
  "site.status.open": "dibuka",
  "site.status.closed": "ditutup",
  "site.released": "Terbuka ({how}) {t}",
  "site.how.centre": "dari pusat",
  "site.how.sealed": "dari kunci tersegel",
  "site.sealed": "Tersegel",
  "site.keyFrom": "pusat memberikannya mulai {t}",
  "site.keyFromNow": "pusat memberikannya sekarang",
  "site.fromCentre": "Minta kunci dari pusat",
  "site.enterSealed": "Ketik kunci tersegel",
  "site.sealedTitle": "Kunci tersegel sesi {code}",
  "site.sealedLabel": "Kunci tersegel dari lembar di amplop",
  "site.sealedHint": "55 karakter dalam kelompok lima. Tanda hubung dan spasi boleh diketik atau tidak; huruf O dibaca 0, huruf I dan L dibaca 1. Satu karakter yang salah ketik ditolak sebelum soal dibuka.",
  "site.sealedCount": "Karakter diketik: {n}",
  "site.sealedSubmit": "Buka soal dengan kunci ini",
  "site.cancel": "Batal",
  "site.opened": "Sesi {code}: {n} soal terbuka ({how}). Pengawas kini dapat membuka sesi.",
  "site.sync": "Sinkronisasi ke pusat",
  "site.centre": "Alamat pusat",
  "site.noCentre": "tidak diatur (hanya kunci tersegel)",
  "site.lastOk": "Sinkron terakhir berhasil",
  "site.never": "belum pernah",
  "site.waiting": "Rekaman menunggu dikirim",
  "site.oldest": "Rekaman tertua yang menunggu",
  "site.oldestAge": "ditulis {ago}",
  "site.nothingWaiting": "tidak ada",
  "site.lastError": "Kesalahan terakhir",
  "site.noError": "tidak ada",
  "site.cpKey": "Kunci checkpoint tilok",
  "site.problems": "Ditolak pusat pada sinkron terakhir",
  "site.problemsHint": "Lihat docs/sites.md. Bila kunci checkpoint tilok diganti, pusat harus mendaftarkan kunci baru (seleksi site register-key) sebelum checkpoint baru diterima.",
  "site.syncNow": "Sinkronkan sekarang",
  "site.syncing": "Menyinkronkan…",
  "site.synced": "Terkirim: pusat menyimpan {n} rekaman baru.",
  "site.syncFailed": "Pusat tidak dapat dihubungi; dicoba lagi otomatis.",
  "site.updated": "Diperbarui {t}",
  "err.sealed_chars": "Kunci tersegel memuat karakter yang tidak ada di lembar: {chars}",
  "err.sealed_length": "Kunci tersegel terdiri dari {need} karakter; yang diketik {typed}.",
  "err.sealed_last": "Karakter terakhir kunci tersegel salah ketik ({char}).",
  "err.sealed_check": "Kunci tersegel tidak cocok untuk sesi {session}: ada karakter yang salah ketik, atau ini lembar sesi lain.",
  "err.bad_key": "Kunci tidak membuka soal sesi ini.",
  "err.centre_unreachable": "Pusat tidak dapat dihubungi. Ketik kunci tersegel dari amplop.",
  "err.no_centre": "Tilok ini tidak memiliki alamat pusat.",
});
Object.assign(SELEKSI_TEXTS.en, {
  "site.title": "Site operator",
  "site.noPackage": "No site package is installed yet. Install one with: seleksi site install.",
  "site.package": "Installed package",
  "site.site": "Site",
  "site.sessions": "Sessions",
  "site.built": "Built at the centre",
  "site.signature": "Signature",
  "site.signatureOk": "Valid: signed by centre key {key}, checked at install {t}",
  "site.keys": "Sessions and item keys",
  "site.keysHint": "Each session's items stay locked until its key is released: from the centre, or from the sealed-key envelope when the centre cannot be reached.",
  "site.session": "Session",
  "site.starts": "Starts",
  "site.status": "Status",
  "site.key": "Item key",
  "site.actions": "Actions",
  "site.status.scheduled": "scheduled",
  "site.status.open": "open",
  "site.status.closed": "closed",
  "site.released": "Released ({how}) {t}",
  "site.how.centre": "from the centre",
  "site.how.sealed": "from the sealed key",
  "site.sealed": "Sealed",
  "site.keyFrom": "the centre gives it from {t}",
  "site.keyFromNow": "the centre gives it now",
  "site.fromCentre": "Get the key from the centre",
  "site.enterSealed": "Type the sealed key",
  "site.sealedTitle": "Sealed key of session {code}",
  "site.sealedLabel": "Sealed key from the sheet in the envelope",
  "site.sealedHint": "55 characters in groups of five. Dashes and spaces may be typed or not; the letter O reads as 0, I and L as 1. A single mistyped character is refused before the items are opened.",
  "site.sealedCount": "Characters typed: {n}",
  "site.sealedSubmit": "Open the items with this key",
  "site.cancel": "Cancel",
  "site.opened": "Session {code}: {n} items opened ({how}). The proctor can now open the session.",
  "site.sync": "Sync to the centre",
  "site.centre": "Centre address",
  "site.noCentre": "not set (sealed keys only)",
  "site.lastOk": "Last successful sync",
  "site.never": "never",
  "site.waiting": "Records waiting to be sent",
  "site.oldest": "Oldest waiting record",
  "site.oldestAge": "written {ago}",
  "site.nothingWaiting": "none",
  "site.lastError": "Last error",
  "site.noError": "none",
  "site.cpKey": "Site checkpoint key",
  "site.problems": "Refused by the centre at the last sync",
  "site.problemsHint": "See docs/sites.md. When the site's checkpoint key was replaced, the centre must register the new key (seleksi site register-key) before new checkpoints are taken.",
  "site.syncNow": "Sync now",
  "site.syncing": "Syncing…",
  "site.synced": "Sent: the centre stored {n} new records.",
  "site.syncFailed": "The centre cannot be reached; it is tried again on its own.",
  "site.updated": "Updated {t}",
  "err.sealed_chars": "The sealed key has characters that are not on the sheet: {chars}",
  "err.sealed_length": "A sealed key has {need} characters; {typed} typed.",
  "err.sealed_last": "The sealed key's last character is mistyped ({char}).",
  "err.sealed_check": "The sealed key does not check out for session {session}: a character was mistyped, or it is another session's sheet.",
  "err.bad_key": "The key does not open this session's items.",
  "err.centre_unreachable": "The centre cannot be reached. Type the sealed key from the envelope.",
  "err.no_centre": "This site has no centre address.",
});

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const el = S.el;
  const C = { data: null, sealedFor: null };
  const staff = S.staffSession({
    storageKey: "seleksi.admin",
    roles: ["admin"],
    refused: "admin_only",
    screens: { login: "screen-login", main: ["screen-site"] },
    refresh,
    refreshMs: 5000,
  });
  // The outcome of the operator's last act per place, as a function so that
  // it is said again in the other language when switched.
  const said = { "key-result": null, "sync-result": null, "sealed-error": null };

  function say(id, textOf) {
    said[id] = textOf;
    $(id).textContent = textOf ? textOf() : "";
  }

  function fmtWhen(epoch) {
    if (!epoch) return "–";
    return new Date(epoch * 1000).toLocaleString(S.lang === "en" ? "en-GB" : "id-ID", {
      dateStyle: "medium",
      timeStyle: "short",
      hour12: false,
    });
  }

  /** An API error in the page's language (with the values the server named). */
  function errText(err) {
    const detail = (err.data && err.data.errors && err.data.errors[0]) || {};
    const key = "err." + err.code;
    const text = S.t(key, detail);
    return text === key ? S.errorText(err.code, err.data) : text;
  }

  async function refresh() {
    try {
      C.data = await staff.call("GET", "/api/site/status");
      $("load-error").textContent = "";
      render();
    } catch (err) {
      if (err.status === 401) return; // logged out
      $("load-error").textContent = errText(err);
    }
  }

  function renderPackages(d) {
    $("no-package").classList.toggle("hidden", d.packages.length > 0);
    $("package-rows").replaceChildren(
      ...d.packages.map((p) =>
        el("tr", { dataset: { package: p.package_id } },
          el("th", { scope: "row" }, p.site_code),
          el("td", { class: "sessions" }, p.sessions.join(", ")),
          el("td", { class: "built" }, fmtWhen(p.built_at)),
          el("td", { class: "signature ok" },
            S.t("site.signatureOk", { key: p.centre_key_id, t: fmtWhen(p.installed_at) })))));
  }

  function renderSessions(d) {
    $("session-rows").replaceChildren(
      ...d.sessions.map((s) => {
        let key;
        const actions = [];
        if (s.key_released) {
          key = el("span", { class: "key-state released" },
            S.t("site.released", { how: S.t("site.how." + s.released_how), t: fmtWhen(s.released_at) }));
        } else {
          const when = d.now >= s.key_from ? S.t("site.keyFromNow") : S.t("site.keyFrom", { t: fmtWhen(s.key_from) });
          key = [el("span", { class: "key-state sealed" }, S.t("site.sealed")), el("span", { class: "sub key-from" }, when)];
          actions.push(
            el("button", {
              type: "button", class: "from-centre",
              disabled: !d.sync.centre_url || d.now < s.key_from,
              onclick: () => release(s.code, null),
            }, S.t("site.fromCentre")),
            el("button", { type: "button", class: "enter-sealed", onclick: () => openSealed(s.code) },
              S.t("site.enterSealed")));
        }
        return el("tr", { dataset: { session: s.code } },
          el("th", { scope: "row" }, s.code),
          el("td", { class: "starts" }, fmtWhen(s.starts_at)),
          el("td", { class: "session-status" }, S.t("site.status." + s.status)),
          el("td", { class: "key" }, key),
          el("td", {}, el("div", { class: "row-actions" }, actions)));
      }));
  }

  function renderSync(d) {
    const y = d.sync;
    $("sync-centre").textContent = y.centre_url || S.t("site.noCentre");
    $("sync-last-ok").textContent = y.last_ok_at
      ? fmtWhen(y.last_ok_at) + " (" + S.fmtAgo(d.now - y.last_ok_at) + ")"
      : S.t("site.never");
    $("sync-waiting").textContent = String(y.waiting);
    $("sync-oldest").textContent = y.oldest_waiting_at
      ? S.t("site.oldestAge", { ago: S.fmtAgo(d.now - y.oldest_waiting_at) })
      : S.t("site.nothingWaiting");
    $("sync-error").textContent = y.last_error || S.t("site.noError");
    $("sync-error").classList.toggle("bad", !!y.last_error);
    $("sync-cp-key").textContent = d.checkpoint_key_id || "–";
    $("problem-list").replaceChildren(...y.problems.map((p) => el("li", {}, p)));
    $("sync-problems").classList.toggle("hidden", y.problems.length === 0);
    $("sync-now").disabled = !y.centre_url;
  }

  function render() {
    const d = C.data;
    if (!d) return;
    renderPackages(d);
    renderSessions(d);
    renderSync(d);
    $("updated").textContent = S.t("site.updated", { t: S.fmtClock(d.now) });
    if (C.sealedFor) $("sealed-heading").textContent = S.t("site.sealedTitle", { code: C.sealedFor });
    countSealed();
    for (const [id, textOf] of Object.entries(said)) $(id).textContent = textOf ? textOf() : "";
  }

  function openSealed(code) {
    C.sealedFor = code;
    $("sealed-form").classList.remove("hidden");
    $("sealed-heading").textContent = S.t("site.sealedTitle", { code });
    $("sealed-key").value = "";
    $("sealed-key").removeAttribute("aria-invalid");
    say("sealed-error", null);
    countSealed();
    $("sealed-key").focus();
  }

  function closeSealed() {
    C.sealedFor = null;
    $("sealed-form").classList.add("hidden");
  }

  function countSealed() {
    // Only what was typed, without the dashes and spaces the sheet groups it with.
    const n = $("sealed-key").value.replace(/[\s-]/g, "").length;
    $("sealed-count").textContent = S.t("site.sealedCount", { n });
  }

  async function release(code, sealed) {
    say("key-result", null);
    say("sealed-error", null);
    try {
      const body = { session_code: code };
      if (sealed !== null) body.sealed_key = sealed;
      const res = await staff.call("POST", "/api/site/keys", body);
      say("key-result", () => S.t("site.opened", { code, n: res.items, how: S.t("site.how." + res.how) }));
      if (sealed !== null) closeSealed();
      await refresh();
    } catch (err) {
      if (err.status === 401) return; // logged out
      if (sealed !== null) {
        say("sealed-error", () => errText(err));
        $("sealed-key").setAttribute("aria-invalid", "true");
        $("sealed-key").focus();
      } else {
        say("key-result", () => errText(err));
      }
    }
  }

  async function syncNow() {
    $("sync-now").disabled = true;
    say("sync-result", () => S.t("site.syncing"));
    try {
      const res = await staff.call("POST", "/api/site/sync", {});
      say("sync-result", () => (res.reached ? S.t("site.synced", { n: res.stored }) : S.t("site.syncFailed")));
    } catch (err) {
      if (err.status === 401) return; // logged out
      say("sync-result", () => errText(err));
    }
    await refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("sealed-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (C.sealedFor) release(C.sealedFor, $("sealed-key").value);
    });
    $("sealed-key").addEventListener("input", () => {
      $("sealed-key").removeAttribute("aria-invalid");
      countSealed();
    });
    $("sealed-cancel").addEventListener("click", closeSealed);
    $("sync-now").addEventListener("click", syncNow);
    document.addEventListener("seleksi:lang", render);
    staff.show();
  });
})();
