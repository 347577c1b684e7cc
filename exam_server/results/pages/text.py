"""The pages' words: every user-facing text in Bahasa Indonesia and English.

:data:`TEXT` maps a key to its (Bahasa Indonesia, English) pair; :func:`t`
gives the one for a page's language (``"en"`` or anything else for Bahasa
Indonesia, the default).
"""

from __future__ import annotations

# User-facing text: Bahasa Indonesia first, English second.
TEXT: dict[str, tuple[str, str]] = {
    "results": ("Hasil Seleksi", "Selection results"),
    "published": ("Diumumkan", "Published"),
    "root": ("Akar Merkle", "Merkle root"),
    "key": (
        "Sidik kunci penanda tangan publikasi ini",
        "This publication's signing key fingerprint",
    ),
    "compare_fp": (
        "Bandingkan sidik ini dengan sidik kunci yang diumumkan instansi melalui saluran resmi "
        "lain (surat pengumuman, situs resmi, media). Jika berbeda, publikasi ini bukan yang "
        "ditandatangani instansi. Halaman ini tidak dapat membuktikannya sendiri: server yang "
        "menampilkan publikasi palsu juga akan menampilkan sidiknya.",
        "Compare this fingerprint with the key fingerprint the agency announced through another "
        "official channel (announcement letter, official site, press). If they differ, this "
        "publication is not the one the agency signed. This page cannot prove it by itself: a "
        "server showing a forged publication would show its fingerprint too.",
    ),
    "server_check": ("Pemeriksaan oleh server ini", "This server's own check"),
    "server_check_ok": (
        "berkas-berkas publikasi ini konsisten dengan tanda tangannya dan dengan aturan "
        "pemeringkatan yang diterbitkan. Ini belum bukti bagi Anda: periksa sendiri dengan "
        "pemeriksa offline dan sidik kunci yang diumumkan.",
        "the files of this publication are consistent with their signature and with the "
        "published ranking rules. That is not proof for you: check for yourself with the "
        "offline verifier and the announced key fingerprint.",
    ),
    "not_verified": (
        "PERINGATAN: publikasi ini tidak lolos verifikasi",
        "WARNING: this publication does not verify",
    ),
    "verifier_link": (
        "Unduh pemeriksa offline (satu berkas HTML, bekerja tanpa internet)",
        "Download the offline verifier (one HTML file, works without internet)",
    ),
    "formations": ("Formasi", "Formations"),
    "formation": ("Formasi", "Formation"),
    "stage": ("Tahap", "Stage"),
    "openings": ("Jumlah formasi", "Openings"),
    "candidates": ("Peserta", "Candidates"),
    "cut_or_vacant": ("Batas / formasi kosong", "Cut / vacant"),
    "download": ("Unduh", "Download"),
    "skd": ("SKD", "SKD"),
    "final": ("Hasil akhir (SKD + SKB)", "Final (SKD + SKB)"),
    "search": ("Cari nomor peserta", "Find a registration number"),
    "search_button": ("Cari", "Search"),
    "not_found": (
        "Nomor peserta tidak ditemukan dalam publikasi ini.",
        "This registration number is not in this publication.",
    ),
    "rank": ("Peringkat", "Rank"),
    "regno": ("Nomor peserta", "Registration number"),
    "name": ("Nama", "Name"),
    "category": ("Kategori", "Category"),
    "total": ("Total", "Total"),
    "skb": ("SKB", "SKB"),
    "final_score": ("Nilai akhir", "Final score"),
    "code": ("Kode", "Code"),
    "reason": ("Alasan", "Reason"),
    "codes": ("Keterangan kode", "What the codes mean"),
    "print": ("Cetak", "Print"),
    "csv": ("Unduh CSV", "Download CSV"),
    "json": ("JSON", "JSON"),
    "files": ("Berkas publikasi", "Published files"),
    "policy": ("Aturan pemeringkatan", "Ranking rules"),
    "proof": ("Bukti inklusi (JSON)", "Inclusion proof (JSON)"),
    "proof_hint": (
        "simpan berkas ini dan periksa dengan pemeriksa offline",
        "save this file and check it with the offline verifier",
    ),
    "how": (
        "Cara memeriksa tanpa mempercayai server ini",
        "How to check without trusting this server",
    ),
    "how_1": (
        "Ambil sidik kunci penanda tangan dari pengumuman resmi instansi, bukan dari halaman ini.",
        "Take the signing key's fingerprint from the agency's official announcement, not from "
        "this page.",
    ),
    "how_2": (
        "Unduh pemeriksa offline di bawah (satu berkas HTML). Simpan, putuskan internet, lalu "
        "buka berkas itu di peramban.",
        "Download the offline verifier below (one HTML file). Save it, disconnect from the "
        "internet, then open that file in a browser.",
    ),
    "how_3": (
        "Unduh manifest.json, manifest.sig dan public_key.pem dari daftar berkas di bawah, "
        "serta bukti inklusi Anda (cari nomor peserta Anda) atau berkas formasi Anda "
        "(skd/KODE.json).",
        "Download manifest.json, manifest.sig and public_key.pem from the file list below, "
        "and your inclusion proof (search your registration number) or your formation's file "
        "(skd/CODE.json).",
    ),
    "how_4": (
        "Masukkan semuanya ke pemeriksa bersama sidik yang diumumkan. \u201cSAH\u201d berarti "
        "entri Anda ada dalam publikasi yang ditandatangani kunci instansi.",
        "Enter them in the verifier with the announced fingerprint. \u201cVALID\u201d means "
        "your entry is in the publication signed by the agency's key.",
    ),
    "how_5": (
        "Punya tanda terima dari terminal (kode SELEKSI-R1:…)? Masukkan juga: pemeriksa "
        "mengatakan apakah baris Anda cocok, berbeda, atau tidak ada.",
        "Have a receipt from the terminal (code SELEKSI-R1:…)? Enter it too: the verifier says "
        "whether your line matches, differs, or is missing.",
    ),
    "cli": ("Dengan baris perintah", "With the command line"),
    "receipt_h": ("Periksa tanda terima Anda", "Check your receipt"),
    "receipt_intro": (
        "Tempel kode teks tanda terima yang ditampilkan terminal saat Anda selesai. Hasilnya "
        "adalah pemeriksaan oleh server ini; untuk bukti yang tidak bergantung pada server ini, "
        "gunakan pemeriksa offline.",
        "Paste the receipt's text code the terminal showed when you finished. The answer is "
        "this server's own check; for proof that does not depend on this server, use the "
        "offline verifier.",
    ),
    "receipt_label": ("Kode tanda terima (SELEKSI-R1:…)", "Receipt code (SELEKSI-R1:…)"),
    "receipt_button": ("Periksa tanda terima", "Check the receipt"),
    "receipt_key": (
        "Ditandatangani kunci tanda terima {fp} (dipakai {period}){retired}.",
        "Signed by the receipt key {fp} (in use {period}){retired}.",
    ),
    "receipt_key_retired": (", kunci yang sudah diganti", ", a key since replaced"),
    "receipt_offline": (
        "Simpan kode tanda terima, manifest.json dan manifest.sig: dengan pemeriksa offline, "
        "siapa pun dapat memeriksa hal yang sama tanpa server ini.",
        "Keep the receipt code, manifest.json and manifest.sig: with the offline verifier, "
        "anyone can check the same without this server.",
    ),
    "cut": ("Batas {m} × formasi", "Cut ({m} × openings)"),
    "vacant": ("Formasi kosong", "Vacant"),
    "optimised_from": ("dari formasi", "from formation"),
    "none": ("Belum ada publikasi hasil.", "No results have been published yet."),
    "preparing": (
        "Hasil ujian yang sudah selesai dalam demo ini ({exam}) sedang disiapkan di latar "
        "belakang dan akan diumumkan di sini. Muat ulang halaman ini dalam beberapa detik.",
        "The results of the demo's finished exam ({exam}) are being prepared in the background "
        "and will be published here. Reload this page in a few seconds.",
    ),
    "back": ("Kembali ke daftar formasi", "Back to the formations"),
    "lang": ("English", "Bahasa Indonesia"),
}
HOW_STEPS = ("how_1", "how_2", "how_3", "how_4", "how_5")


def t(key: str, lang: str) -> str:
    id_, en = TEXT[key]
    return en if lang == "en" else id_
