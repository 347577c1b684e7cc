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
