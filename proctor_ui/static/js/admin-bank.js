// Seleksi admin: the item bank's page part — upload a QTI package or item, CSV or JSON
// to POST /api/admin/bank/import (all or nothing; the server's problems by row).
"use strict";

(function () {
  const S = window.Seleksi;
  const $ = (id) => document.getElementById(id);

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
    let data;
    try {
      data = await window.SeleksiAdmin.call("POST", "/api/admin/bank/import?" + query, file);
    } catch (err) {
      if (err.status === 401) return; // logged out: the login form says why
      const problems = (err.data && err.data.errors) || [];
      $("bank-error").textContent = problems.length
        ? S.t("bank.failed", { n: problems.length })
        : (err.data && err.data.message) || S.errorText(err.code);
      $("bank-errors").replaceChildren(...problems.map((p) => S.el("li", {}, problemLine(p))));
      return;
    }
    $("bank-result").textContent = S.t(data.dry_run ? "bank.checked" : "bank.done", { n: data.created.length }) + " " + data.summary;
  });

  window.SeleksiAdmin.onTab("bank", async () => {});
})();
