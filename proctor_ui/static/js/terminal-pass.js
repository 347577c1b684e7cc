// Seleksi terminal: the terminal pass, entered once by a technician when the
// terminal is set up (docs/reliability.md, "Terminal passes").
//
// A small "Pengaturan terminal (petugas)" box under the login form: the
// technician types or pastes the code that `seleksi terminal issue` (or
// POST /api/terminal-passes) printed; the server says whether it is a pass it
// would count (POST /api/candidate/terminal-pass) and only then is it kept, in
// this browser's localStorage (like the terminal id). js/terminal.js sends it
// with every login. The code itself is never shown again, only the pass's id,
// so nobody reads another terminal's pass off its screen.
"use strict";

Object.assign(SELEKSI_TEXTS.id, {
  "pass.summary": "Pengaturan terminal (petugas)",
  "pass.help": "Kode izin terminal dari panitia, dimasukkan sekali saat komputer ini disiapkan. Peserta tidak perlu mengisinya.",
  "pass.label": "Kode izin terminal",
  "pass.save": "Simpan kode",
  "pass.remove": "Hapus kode",
  "pass.none": "Belum ada kode izin di terminal ini.",
  "pass.stored": "Terminal ini memakai izin {id}, berlaku sampai {until}.",
  "pass.saved": "Tersimpan: izin {id}, berlaku sampai {until}.",
  "pass.checking": "Memeriksa kode…",
  "pass.malformed": "Kode tidak lengkap atau salah ketik (bentuknya TP-…, 35 huruf dan angka). Tidak disimpan.",
  "pass.invalid": "Kode ini tidak berlaku (salah ketik, kedaluwarsa, atau dicabut). Tidak disimpan.",
  "pass.offline": "Server tidak dapat dihubungi; kode belum diperiksa dan tidak disimpan. Coba lagi.",
  "pass.removed": "Kode izin dihapus dari terminal ini.",
});

Object.assign(SELEKSI_TEXTS.en, {
  "pass.summary": "Terminal setup (staff)",
  "pass.help": "The terminal pass from the organisers, entered once when this computer is set up. Candidates need not fill it in.",
  "pass.label": "Terminal pass code",
  "pass.save": "Save the code",
  "pass.remove": "Remove the code",
  "pass.none": "No terminal pass on this terminal yet.",
  "pass.stored": "This terminal uses pass {id}, valid until {until}.",
  "pass.saved": "Saved: pass {id}, valid until {until}.",
  "pass.checking": "Checking the code…",
  "pass.malformed": "The code is incomplete or mistyped (it looks like TP-…, 35 letters and digits). Not saved.",
  "pass.invalid": "This code is not valid (mistyped, expired or revoked). Not saved.",
  "pass.offline": "The server cannot be reached; the code was not checked and not saved. Try again.",
  "pass.removed": "The terminal pass was removed from this terminal.",
});

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  const KEY = "seleksi.terminalPass";
  const KEY_ID = "seleksi.terminalPassId";
  const KEY_EXPIRES = "seleksi.terminalPassExpires";
  const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  let lastStatus = null; // [key, vars]: said again after a language switch

  /** The code as the server reads it: no spaces or hyphens, upper case; null if misshapen. */
  function normalise(raw) {
    const text = String(raw || "").replace(/[\s-]+/g, "").toUpperCase();
    if (text.length !== 35 || !text.startsWith("TP")) return null;
    for (const c of text.slice(2)) if (!ALPHABET.includes(c)) return null;
    return text;
  }

  function until(expires) {
    const d = new Date(Number(expires) * 1000);
    const locale = S.lang === "en" ? "en-GB" : "id-ID";
    return d.toLocaleDateString(locale, { day: "numeric", month: "long", year: "numeric" });
  }

  /** Say a result in the live region (a text key and its values; null: nothing). */
  function say(key, vars) {
    lastStatus = key ? [key, vars] : null;
    $("pass-status").textContent = key ? S.t(key, vars) : "";
  }

  /** What is kept on this terminal (never the code: only the pass's id). */
  function render() {
    const id = localStorage.getItem(KEY_ID);
    const has = Boolean(localStorage.getItem(KEY) && id);
    $("pass-state").textContent = has
      ? S.t("pass.stored", { id, until: until(localStorage.getItem(KEY_EXPIRES)) })
      : S.t("pass.none");
    $("pass-remove").disabled = !has;
    if (lastStatus) say(...lastStatus);
  }

  async function save(ev) {
    ev.preventDefault();
    const code = normalise($("terminal-pass").value);
    if (!code) return say("pass.malformed");
    $("pass-save").disabled = true;
    say("pass.checking");
    try {
      const reply = await S.api("POST", "/api/candidate/terminal-pass", { terminal_pass: code });
      if (!reply || !reply.valid) {
        say("pass.invalid");
        return;
      }
      localStorage.setItem(KEY, code);
      localStorage.setItem(KEY_ID, reply.id);
      localStorage.setItem(KEY_EXPIRES, String(reply.expires_at));
      $("terminal-pass").value = "";
      say("pass.saved", { id: reply.id, until: until(reply.expires_at) });
    } catch (_) {
      say("pass.offline");
    } finally {
      $("pass-save").disabled = false;
      render();
    }
  }

  function remove() {
    for (const key of [KEY, KEY_ID, KEY_EXPIRES]) localStorage.removeItem(key);
    say("pass.removed");
    render();
    $("terminal-pass").focus();
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!$("pass-form")) return;
    $("pass-form").addEventListener("submit", save);
    $("pass-remove").addEventListener("click", remove);
    render();
  });
  document.addEventListener("seleksi:lang", () => {
    if ($("pass-form")) render();
  });
})();
