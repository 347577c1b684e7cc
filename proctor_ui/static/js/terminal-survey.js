// Seleksi terminal: the optional anonymous survey after the score screen (issue 20).
// Listens for "seleksi:final" (js/terminal.js, with the finished attempt's token),
// asks GET /api/after/survey for the questions, and sends one submission or
// "no thanks" (POST /api/after/survey). The server stores the answers with the
// exam and the test day only: no candidate, terminal or time.
"use strict";

(function () {
  const S = window.Seleksi;
  const TEXT = {
    id: {
      title: "Survei singkat (opsional, anonim)",
      intro: "Bantu kami memperbaiki pelaksanaan seleksi. Jawaban disimpan tanpa identitas Anda dan tanpa waktu pengisian.",
      low: "sangat kurang",
      high: "sangat baik",
      send: "Kirim survei",
      decline: "Tidak, terima kasih",
      thanks: "Terima kasih atas masukan Anda.",
      declined: "Survei dilewati.",
      none: "Pilih paling sedikit satu jawaban, atau lewati survei.",
      failed: "Survei tidak terkirim: ",
    },
    en: {
      title: "A short survey (optional, anonymous)",
      intro: "Help us improve the selection. Answers are stored without your identity and without the time you answered.",
      low: "very poor",
      high: "very good",
      send: "Send the survey",
      decline: "No, thank you",
      thanks: "Thank you for your feedback.",
      declined: "Survey skipped.",
      none: "Choose at least one answer, or skip the survey.",
      failed: "The survey was not sent: ",
    },
  };
  const tx = (key) => (TEXT[S.lang] || TEXT.id)[key];

  function status(box, text) {
    const p = box.querySelector(".survey-status");
    p.textContent = text;
  }

  function render(box, questions, token) {
    const form = S.el("form", { class: "survey-form" });
    for (const q of questions) {
      const options = [];
      for (let v = q.low; v <= q.high; v++) {
        const id = "survey-" + q.code + "-" + v;
        options.push(
          S.el("span", { class: "survey-choice" },
            S.el("input", { type: "radio", name: q.code, value: String(v), id }),
            S.el("label", { for: id }, String(v)))
        );
      }
      form.append(
        S.el("fieldset", { class: "survey-q" },
          S.el("legend", {}, S.lang === "en" ? q.en : q.id),
          S.el("span", { class: "survey-scale" }, q.low + " = " + tx("low") + ", " + q.high + " = " + tx("high")),
          S.el("div", { class: "survey-choices" }, options))
      );
    }
    const send = S.el("button", { type: "submit", class: "primary" }, tx("send"));
    const decline = S.el("button", { type: "button" }, tx("decline"));
    form.append(S.el("div", { class: "item-actions" }, send, decline));
    box.replaceChildren(
      S.el("h2", { id: "survey-title" }, tx("title")),
      S.el("p", {}, tx("intro")),
      form,
      S.el("p", { class: "survey-status save-state", role: "status", "aria-live": "polite" })
    );
    async function submit(body, done) {
      send.disabled = decline.disabled = true;
      try {
        await S.api("POST", "/api/after/survey", body, token);
        form.remove();
        status(box, done);
      } catch (err) {
        send.disabled = decline.disabled = false;
        status(box, tx("failed") + (err.message || err.code));
      }
    }
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const answers = {};
      for (const q of questions) {
        const chosen = form.querySelector('input[name="' + q.code + '"]:checked');
        if (chosen) answers[q.code] = Number(chosen.value);
      }
      if (!Object.keys(answers).length) return status(box, tx("none"));
      submit({ answers }, tx("thanks"));
    });
    decline.addEventListener("click", () => submit({ declined: true }, tx("declined")));
  }

  document.addEventListener("seleksi:final", async (ev) => {
    const box = document.getElementById("survey");
    const token = ev.detail && ev.detail.token;
    if (!box || !token) return;
    try {
      const reply = await S.api("GET", "/api/after/survey", undefined, token);
      if (!reply || !reply.open || !reply.questions.length) return;
      render(box, reply.questions, token);
      box.classList.remove("hidden");
    } catch (_) {
      // The survey is optional: a server without it, or offline, shows nothing.
    }
  });
})();
