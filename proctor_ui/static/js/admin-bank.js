// Seleksi admin: the item bank's page part — upload a QTI package or item, CSV or JSON
// to POST /api/admin/bank/import (all or nothing; the server's problems by row).
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);
  // This part's texts, added to the shared tables so data-i18n and the language switch work.
  Object.assign(SELEKSI_TEXTS.id, {
    "bank.tab": "Bank soal",
    "bank.title": "Bank soal",
    "bank.hint": "Paket QTI 2.1/2.2/3.0 (.zip), satu soal QTI (.xml), CSV atau JSON. Satu kesalahan saja: tidak ada yang diimpor.",
    "bank.file": "Berkas bank soal",
    "bank.subtest": "Subtes untuk soal QTI dari aplikasi lain",
    "bank.area": "Bidang materi",
    "bank.dry": "Periksa saja, jangan simpan",
    "bank.import": "Impor",
    "bank.noFile": "Pilih berkas dulu.",
    "bank.failed": "Tidak ada yang diimpor: {n} masalah.",
    "bank.done": "Diimpor: {n} soal baru.",
    "bank.checked": "Diperiksa, tidak disimpan: {n} soal baru.",
    "bank.row": "Baris {row} ({item}), {field}: ",
    "bank.package": "Paket: ",
  });
  Object.assign(SELEKSI_TEXTS.en, {
    "bank.tab": "Item bank",
    "bank.title": "Item bank",
    "bank.hint": "A QTI 2.1/2.2/3.0 package (.zip), one QTI item (.xml), CSV or JSON. Any fault and nothing is imported.",
    "bank.file": "Item bank file",
    "bank.subtest": "Subtest for QTI items from other tools",
    "bank.area": "Content area",
    "bank.dry": "Check only, do not store",
    "bank.import": "Import",
    "bank.noFile": "Choose a file first.",
    "bank.failed": "Nothing was imported: {n} problem(s).",
    "bank.done": "Imported: {n} new item(s).",
    "bank.checked": "Checked, not stored: {n} new item(s).",
    "bank.row": "Row {row} ({item}), {field}: ",
    "bank.package": "Package: ",
  });

  function problemLine(p) {
    const where = p.row ? S.t("bank.row", { row: p.row, item: p.item_id || "-", field: p.field }) : S.t("bank.package");
    return where + p.message;
  }

  $("bank-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("bank-error").textContent = "";
    $("bank-errors").replaceChildren();
    $("bank-result").textContent = "";
    const file = $("bank-file").files[0];
    if (!file) {
      $("bank-error").textContent = S.t("bank.noFile");
      return;
    }
    const query = new URLSearchParams({ filename: file.name });
    if ($("bank-subtest").value.trim()) {
      query.set("subtest", $("bank-subtest").value.trim());
      query.set("content_area", $("bank-area").value.trim());
    }
    if ($("bank-dry").checked) query.set("dry_run", "1");
    const token = window.sessionStorage.getItem("seleksi.admin");
    let response, data;
    try {
      // The file's bytes as they are (a zip is not text): straight fetch, not Seleksi.api.
      response = await fetch("/api/admin/bank/import?" + query, {
        method: "POST",
        headers: { Authorization: "Bearer " + token, "Content-Type": "application/octet-stream", Accept: "application/json" },
        body: file,
      });
      data = await response.json().catch(() => ({}));
    } catch (err) {
      $("bank-error").textContent = S.errorText("network");
      return;
    }
    if (response.status === 401) {
      window.sessionStorage.removeItem("seleksi.admin");
      location.reload();
      return;
    }
    if (!response.ok) {
      const problems = (data && data.errors) || [];
      $("bank-error").textContent = problems.length ? S.t("bank.failed", { n: problems.length }) : data.message || S.errorText(data.error);
      $("bank-errors").replaceChildren(...problems.map((p) => S.el("li", {}, problemLine(p))));
      return;
    }
    $("bank-result").textContent = S.t(data.dry_run ? "bank.checked" : "bank.done", { n: data.created.length }) + " " + data.summary;
  });

  window.SeleksiAdmin.onTab("bank", async () => {});
})();
