"""What the after-the-test pages say: Bahasa Indonesia first, English second."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    "after": ("Setelah Ujian", "After the test"),
    "lang": ("English", "Bahasa Indonesia"),
    "preparing_heading": ("Sedang disiapkan", "Being prepared"),
    "preparing": (
        "Ujian yang sudah selesai dalam demo ini ({exam}) sedang disiapkan: peserta, skor, "
        "masukan, dan hasil yang diumumkan dibuat di latar belakang sejak demo dimulai, "
        "sekitar sepuluh detik. Muat ulang halaman ini dalam beberapa detik.",
        "The demo's finished exam ({exam}) is being prepared: its candidates, scores, "
        "feedback and published results are made in the background since the demo started, "
        "about ten seconds. Reload this page in a few seconds.",
    ),
    "reload": ("Muat ulang halaman ini", "Reload this page"),
    "home_intro": (
        "Laporan diagnostik, kotak saran, dasbor publik, dan sanggah hasil untuk ujian ini.",
        "Diagnostic reports, the feedback box, the public dashboard and appeals of results "
        "for this exam.",
    ),
    "diag": ("Laporan diagnostik", "Diagnostic report"),
    "diag_intro": (
        "Tempel kode tanda terima (SELEKSI-R1:…) yang ditampilkan terminal saat Anda selesai. "
        "Laporan menunjukkan skor per area materi beserta galat bakunya, hanya untuk area yang "
        "menambah informasi di luar skor total.",
        "Paste the receipt code (SELEKSI-R1:…) the terminal showed when you finished. The "
        "report shows a score per content area with its standard error, only for areas that "
        "add information beyond the total.",
    ),
    "receipt_label": ("Kode tanda terima (SELEKSI-R1:…)", "Receipt code (SELEKSI-R1:…)"),
    "receipt_lost": (
        "Kode hilang? Lihat lagi di akun pendaftaran Anda (Pendaftaran saya, /recruitment/me), "
        "atau minta kepada panitia dengan membawa KTP.",
        "Lost it? See it again on your registration account (My registration, "
        "/recruitment/me), or ask the committee, bringing your ID card.",
    ),
    "show": ("Tampilkan laporan", "Show the report"),
    "bad_receipt": (
        "Tanda terima tidak sah untuk ujian ini.",
        "The receipt is not valid for this exam.",
    ),
    "receipt_unreadable": (
        "Tanda terima tidak sah: kodenya tidak terbaca atau rusak; salin ulang dari layar atau "
        "cetakan.",
        "The receipt is not valid: its code cannot be read or is damaged; copy it again from "
        "the screen or print.",
    ),
    "receipt_unknown_key": (
        "Tanda terima tidak sah: ditandatangani dengan kunci {key}, yang bukan kunci tanda terima "
        "server ini, yang sekarang maupun yang sudah diganti, dan bukan kunci yang terdaftar "
        "untuk lokasi tes: tanda terima palsu, atau dari server lain.",
        "The receipt is not valid: it was signed with key {key}, which is not one of this "
        "server's receipt keys, current or retired, nor a key registered for a test site: a "
        "forged receipt, or one from another server.",
    ),
    "receipt_other_site": (
        "Tanda terima tidak sah: ditandatangani dengan kunci {key} milik lokasi tes {site}, "
        "yang hanya menandatangani tanda terima peserta yang dijadwalkan di lokasi itu; peserta "
        "dan sesi pada tanda terima ini bukan dari lokasi {site}.",
        "The receipt is not valid: it was signed with key {key} of test site {site}, which "
        "signs only the receipts of candidates scheduled at that site; the candidate and "
        "session on this receipt are not site {site}'s.",
    ),
    "receipt_bad_signature": (
        "Tanda terima tidak sah: tanda tangannya tidak cocok dengan kuncinya ({key}), isinya "
        "telah diubah.",
        "The receipt is not valid: its signature does not match its key ({key}), its content "
        "was changed.",
    ),
    "receipt_other_exam": (
        "Tanda terima tidak sah untuk ujian ini: tanda terima ini untuk ujian {exam}.",
        "The receipt is not valid for this exam: it is for the exam {exam}.",
    ),
    "no_exam": (
        "Ujian ini tidak dikenal di server ini.",
        "This server holds no such exam.",
    ),
    "no_result": (
        "Belum ada hasil ujian untuk tanda terima ini.",
        "There is no finished test for this receipt yet.",
    ),
    "site_not_arrived": (
        "Laporan belum dapat disusun: Anda mengikuti ujian di lokasi tes {site} (sesi "
        "{session}), dan catatan lokasi tes tersebut belum semuanya sampai di pusat. Silakan "
        "coba lagi setelah lokasi tes menyelesaikan sinkronisasinya.",
        "The report cannot be made yet: you sat the test at exam site {site} (session "
        "{session}), and the site's records have not all arrived at the centre. Please try "
        "again once the site has finished its sync.",
    ),
    "site_not_verified": (
        "Laporan belum dapat disusun: Anda mengikuti ujian di lokasi tes {site} (sesi "
        "{session}), dan catatan lokasi tes tersebut belum terverifikasi di pusat (hasil "
        "dihitung ulang dari jawaban yang dikirim belum sama dengan hasil lokasi tes).",
        "The report cannot be made yet: you sat the test at exam site {site} (session "
        "{session}), and the site's records have not been verified at the centre (the result "
        "recomputed from the synced answers does not yet equal the site's).",
    ),
    "regno": ("Nomor peserta", "Registration number"),
    "name": ("Nama", "Name"),
    "subtest": ("Subtes", "Subtest"),
    "area": ("Area materi", "Content area"),
    "score": ("Skor (0–100)", "Score (0–100)"),
    "se": ("Galat baku", "Standard error"),
    "items": ("Butir", "Items"),
    "group_mean": ("Rata-rata peserta", "Candidates' mean"),
    "why": ("Keterangan", "Note"),
    "diag_scale": (
        "Skala laporan: 50 + 10·θ (θ = kemampuan pada skala bank soal; rata-rata populasi "
        "50, simpangan baku 10). Skor ± galat baku memuat kemampuan Anda dengan peluang "
        "sekitar 68 %. Area hanya dilaporkan jika PRMSE subskornya melebihi PRMSE skor total "
        "(Haberman, 2008).",
        "Report scale: 50 + 10·θ (θ = ability on the item bank's scale; population mean 50, "
        "SD 10). Score ± standard error holds your ability with about 68 % probability. An "
        "area is reported only where its subscore's PRMSE exceeds the total's (Haberman, "
        "2008).",
    ),
    "not_reported": ("tidak dilaporkan", "not reported"),
    "print": ("Cetak", "Print"),
    "feedback": ("Kotak saran", "Feedback box"),
    "feedback_intro": (
        "Sampaikan saran atau keluhan tentang seleksi ini. Saran ditampilkan di dasbor publik "
        "setelah dimoderasi. Jangan menulis data pribadi.",
        "Send a suggestion or complaint about this selection. It is shown on the public "
        "dashboard after moderation. Do not write personal data.",
    ),
    "category": ("Kategori", "Category"),
    "text": ("Isi saran", "Your message"),
    "website": ("Jangan isi kolom ini", "Leave this field empty"),
    "send": ("Kirim", "Send"),
    "thanks": (
        "Terima kasih. Saran Anda nomor {n} akan ditampilkan setelah dimoderasi.",
        "Thank you. Your message number {n} will be shown after moderation.",
    ),
    "refused": ("Tidak dapat diterima", "Not accepted"),
    "too_fast": (
        "Formulir dikirim terlalu cepat atau sudah kedaluwarsa; muat ulang halaman lalu "
        "kirim lagi.",
        "The form was sent too fast or has expired; reload the page and send again.",
    ),
    "dashboard": ("Dasbor publik", "Public dashboard"),
    "satisfaction": ("Kepuasan peserta per hari ujian", "Candidates' satisfaction by test day"),
    "mean_1_5": ("rata-rata (1–5)", "mean (1–5)"),
    "day": ("Hari ujian", "Test day"),
    "question": ("Pertanyaan", "Question"),
    "mean": ("Rata-rata", "Mean"),
    "answers": ("Jawaban", "Answers"),
    "survey_n": ("Jumlah pengisi survei", "Survey submissions"),
    "survey_small_cell": (
        "Rata-rata tidak ditampilkan (–) bila kurang dari {k} peserta menjawab pada hari itu: "
        "jawaban peserta yang sedikit akan dapat dikenali.",
        "No mean is shown (–) where fewer than {k} candidates answered on that day: the "
        "answers of so few could be told apart.",
    ),
    "by_category": ("Saran menurut kategori dan status", "Feedback by category and status"),
    "status": ("Status", "Status"),
    "pending": ("menunggu moderasi", "awaiting moderation"),
    "published": ("terbit", "published"),
    "rejected": ("ditolak", "rejected"),
    "median_answer": ("Median waktu menjawab saran", "Median time to answer feedback"),
    "median_answer_appeal": ("Median waktu menjawab sanggah", "Median time to answer appeals"),
    "answer_times": ("Waktu menjawab", "Time to answer"),
    "answer_times_intro": (
        "Berapa hari instansi memerlukan untuk menjawab setiap saran (per kategori) dan setiap "
        "sanggah hasil: setiap titik satu jawaban, kotak dari kuartil pertama sampai ketiga, "
        "garis tebal median.",
        "How many days the agency took to answer each feedback item (per category) and each "
        "appeal of results: each dot one answer, the box from the first to the third quartile, "
        "the thick line the median.",
    ),
    "answer_times_axis": ("hari sampai dijawab", "days to the answer"),
    "answer_times_desc": (
        "{group}: median {median} hari, kuartil {q1}–{q3}, paling cepat {least}, paling lama "
        "{most} (n = {n})",
        "{group}: median {median} days, quartiles {q1}–{q3}, least {least}, most {most} (n = {n})",
    ),
    "answer_group": ("Kelompok", "Group"),
    "answered_n": ("Dijawab", "Answered"),
    "least": ("Paling cepat", "Least"),
    "q1": ("Kuartil 1", "Quartile 1"),
    "q3": ("Kuartil 3", "Quartile 3"),
    "most": ("Paling lama", "Most"),
    "appeals_group": ("Sanggah hasil", "Appeals of results"),
    "days": ("{d} hari", "{d} days"),
    "none_yet": ("belum ada", "none yet"),
    "published_feedback": ("Saran yang terbit dan jawabannya", "Published feedback and answers"),
    "answer": ("Jawaban instansi", "The agency's answer"),
    "appeal_stats": ("Statistik sanggah hasil", "Appeals of results"),
    "appeals_submitted": ("Diajukan", "Submitted"),
    "appeals_accepted": ("Diterima", "Accepted"),
    "appeals_rejected": ("Ditolak", "Rejected"),
    "appeals_pending": ("Dalam proses", "Pending"),
    "appeals_overdue": ("Melewati batas jawab", "Past the answer deadline"),
    "total": ("Jumlah", "Total"),
    "appeal": ("Sanggah hasil", "Appeal of results"),
    "appeal_intro": (
        "Sanggah hanya dapat memperbaiki kesalahan administratif (nama, kategori, atau nilai "
        "SKB yang salah salin), dalam {w} hari sejak pengumuman. Instansi menjawab dalam {a} "
        "hari. Anda diidentifikasi dengan tanda terima dari terminal.",
        "An appeal can correct clerical errors only (name, category, or a mis-transcribed SKB "
        "score), within {w} days of publication. The agency answers within {a} days. You are "
        "identified by the receipt from the terminal.",
    ),
    "window": ("Masa sanggah", "Appeal window"),
    "reason": ("Alasan", "Reason"),
    "evidence": ("Bukti (uraian atau tautan)", "Evidence (description or link)"),
    "field": ("Yang perlu diperbaiki", "What should be corrected"),
    "field_none": ("(tidak menyebut)", "(not stated)"),
    "f_name": ("Nama", "Name"),
    "f_category": ("Kategori", "Category"),
    "f_skb": ("Nilai SKB", "SKB score"),
    "requested": ("Nilai yang benar", "The correct value"),
    "submit_appeal": ("Ajukan sanggah", "Submit the appeal"),
    "appeal_done": (
        "Sanggah nomor {n} diterima sistem. Instansi menjawab paling lambat {d}.",
        "Appeal number {n} is recorded. The agency answers by {d}.",
    ),
    "no_publication": (
        "Hasil ujian ini belum diumumkan; sanggah dibuka setelah pengumuman.",
        "The results of this exam are not published yet; appeals open after publication.",
    ),
    "training": ("Kebutuhan pelatihan pegawai baru", "Training needs of new hires"),
    "training_intro": (
        "Peserta yang lulus akhir (P/L), per instansi dan formasi: rata-rata skor per area "
        "materi dan komponen SKB (skala 0–100) dibandingkan standar; kebutuhan = standar − "
        "rata-rata (0 bila memenuhi). Warna lebih gelap = kebutuhan lebih besar.",
        "Candidates who passed the final (P/L), per agency and formation: mean score per "
        "content area and SKB component (0–100 scale) against the standard; need = standard − "
        "mean (0 when met). Darker = larger need.",
    ),
    "group": ("Instansi / formasi", "Agency / formation"),
    "n": ("Jumlah", "Count"),
    "standard": ("Standar", "Standard"),
    "programmes": ("Program pelatihan yang disarankan", "Suggested training programmes"),
    "priority": ("prioritas", "priority"),
    "no_hires": (
        "Belum ada peserta lulus akhir dalam publikasi.",
        "No candidate has passed the final in the publication yet.",
    ),
    "heat_title": ("Peta kebutuhan pelatihan", "Training needs heat map"),
    "prmse_h": ("Area yang dilaporkan (kriteria PRMSE)", "Areas reported (PRMSE criterion)"),
    "prmse_sub": ("PRMSE subskor", "Subscore PRMSE"),
    "prmse_total": ("PRMSE total", "Total PRMSE"),
    "reported": ("Dilaporkan", "Reported"),
    "yes": ("ya", "yes"),
    "no": ("tidak", "no"),
}


def t(key: str, lang: str) -> str:
    id_, en = TEXT[key]
    return en if lang == "en" else id_
