# ruff: noqa: E501  (the item texts are prose; breaking them would hurt reading them)
"""Demo TIU (Tes Intelegensia Umum) item drafts: verbal, numerik, figural.

Numeric items are computed (the key is the true answer; distractors are
the answers of common slips); verbal items draw from word lists; figural
items are sequences of Unicode shapes and arrows that a text stem can show.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction

from item_bank.demo_drafts import NAMES, ChoiceDraft, ChoiceGenerator, pick_distractors

# ---------------------------------------------------------------------------
# Verbal
# ---------------------------------------------------------------------------

SINONIM = (
    ("akurat", "cermat"),
    ("ambigu", "bermakna ganda"),
    ("anomali", "penyimpangan"),
    ("bahtera", "perahu"),
    ("canggung", "kaku"),
    ("defisit", "kekurangan"),
    ("dedikasi", "pengabdian"),
    ("elegan", "anggun"),
    ("eksplisit", "tersurat"),
    ("fiktif", "rekaan"),
    ("genting", "gawat"),
    ("hipotesis", "dugaan sementara"),
    ("imitasi", "tiruan"),
    ("jenuh", "bosan"),
    ("kontemporer", "masa kini"),
    ("kendala", "hambatan"),
    ("lugas", "terus terang"),
    ("mahir", "cakap"),
    ("otonomi", "swatantra"),
    ("prematur", "belum waktunya"),
    ("rancu", "kacau"),
    ("relevan", "berkaitan"),
    ("sintesis", "paduan"),
    ("stagnan", "macet"),
    ("tenggat", "batas waktu"),
    ("transparan", "terbuka"),
    ("utopia", "khayalan"),
    ("valid", "sahih"),
    ("wacana", "diskursus"),
    ("afeksi", "kasih sayang"),
    ("amnesti", "pengampunan"),
    ("bonafide", "tepercaya"),
    ("delegasi", "perutusan"),
    ("estimasi", "perkiraan"),
    ("filantropi", "kedermawanan"),
    ("gradual", "bertahap"),
    ("hakiki", "sebenarnya"),
    ("kapabel", "mampu"),
    ("konsensus", "mufakat"),
    ("mutakhir", "terbaru"),
    ("orisinal", "asli"),
    ("pionir", "perintis"),
    ("proporsional", "sebanding"),
    ("resesi", "kemerosotan ekonomi"),
    ("signifikan", "berarti"),
    ("spontan", "serta-merta"),
    ("tendensi", "kecenderungan"),
    ("verifikasi", "pemeriksaan"),
    ("nisbi", "relatif"),
    ("kudus", "suci"),
    ("lazim", "biasa"),
    ("mufakat", "setuju"),
)
ANTONIM = (
    ("abstrak", "konkret"),
    ("agresif", "pasif"),
    ("amatir", "profesional"),
    ("defisit", "surplus"),
    ("dinamis", "statis"),
    ("ekspor", "impor"),
    ("eksplisit", "implisit"),
    ("fana", "abadi"),
    ("heterogen", "homogen"),
    ("inferior", "superior"),
    ("konsumen", "produsen"),
    ("mayoritas", "minoritas"),
    ("makro", "mikro"),
    ("optimis", "pesimis"),
    ("permanen", "sementara"),
    ("prolog", "epilog"),
    ("rasional", "irasional"),
    ("sporadis", "terus-menerus"),
    ("subjektif", "objektif"),
    ("teoretis", "praktis"),
    ("vertikal", "horizontal"),
    ("ofensif", "defensif"),
    ("boros", "hemat"),
    ("kikir", "dermawan"),
    ("konservatif", "progresif"),
    ("statis", "bergerak"),
    ("sulung", "bungsu"),
    ("nihil", "ada"),
    ("absolut", "relatif"),
    ("moderat", "ekstrem"),
    ("introver", "ekstrover"),
    ("deduktif", "induktif"),
    ("maksimal", "minimal"),
    ("sekuler", "religius"),
    ("terampil", "kikuk"),
    ("gamang", "yakin"),
    ("fiktif", "nyata"),
    ("lazim", "ganjil"),
    ("sahih", "palsu"),
    ("tunggal", "majemuk"),
)
ANALOGI = (
    (
        "alat kerja",
        (
            ("dokter", "stetoskop"),
            ("petani", "cangkul"),
            ("nelayan", "jala"),
            ("penulis", "pena"),
            ("pelukis", "kuas"),
            ("tukang kayu", "gergaji"),
            ("fotografer", "kamera"),
            ("penjahit", "jarum"),
            ("juru masak", "wajan"),
        ),
    ),
    (
        "tempat kerja",
        (
            ("guru", "sekolah"),
            ("hakim", "pengadilan"),
            ("pilot", "kokpit"),
            ("petani", "sawah"),
            ("koki", "dapur"),
            ("pustakawan", "perpustakaan"),
            ("masinis", "lokomotif"),
            ("apoteker", "apotek"),
            ("montir", "bengkel"),
        ),
    ),
    (
        "hasil",
        (
            ("lebah", "madu"),
            ("sapi", "susu"),
            ("ulat sutra", "kepompong"),
            ("ayam", "telur"),
            ("pohon karet", "getah"),
            ("penyair", "puisi"),
            ("arsitek", "rancangan bangunan"),
            ("komponis", "lagu"),
        ),
    ),
    (
        "bahan baku",
        (
            ("kapas", "benang"),
            ("tebu", "gula"),
            ("kedelai", "tempe"),
            ("gandum", "tepung terigu"),
            ("susu", "keju"),
            ("kayu", "kertas"),
            ("pasir", "kaca"),
            ("tanah liat", "gerabah"),
            ("anggur", "kismis"),
        ),
    ),
    (
        "satuan",
        (
            ("panjang", "meter"),
            ("massa", "kilogram"),
            ("waktu", "detik"),
            ("arus listrik", "ampere"),
            ("daya", "watt"),
            ("suhu", "kelvin"),
            ("hambatan listrik", "ohm"),
            ("gaya", "newton"),
            ("tekanan", "pascal"),
        ),
    ),
)
# Conditional chains P → Q → R; "|" marks where "tidak" goes in the negation.
CHAINS = (
    ("hujan | turun deras", "jalan di depan kantor | tergenang", "kendaraan | melaju pelan"),
    (
        "pegawai | datang tepat waktu",
        "apel pagi | dimulai sesuai jadwal",
        "pelayanan | dibuka pukul 08.00",
    ),
    ("anggaran | disetujui", "proyek jembatan | dimulai", "akses warga desa | membaik"),
    ("harga bahan bakar | naik", "biaya distribusi | meningkat", "harga sayur di pasar | naik"),
    ("Rina | rajin berlatih", "Rina | lolos seleksi atlet daerah", "Rina | mewakili provinsi"),
    (
        "server kantor | diperbarui",
        "aplikasi layanan | berjalan lebih cepat",
        "antrean warga | berkurang",
    ),
    (
        "musim kemarau | berlangsung panjang",
        "debit air waduk | turun",
        "pasokan air bersih | dibatasi",
    ),
    ("laporan | diserahkan lengkap", "verifikasi | selesai lebih cepat", "dana | segera dicairkan"),
    ("listrik | padam", "mesin antrean | mati", "warga | dilayani secara manual"),
    ("Budi | lulus ujian dinas", "Budi | naik pangkat", "tunjangan Budi | bertambah"),
    ("harga cabai | turun", "pedagang | menambah stok", "pasokan di pasar | melimpah"),
    ("sosialisasi | dilakukan", "warga | memahami prosedur", "berkas yang ditolak | berkurang"),
)
CATEGORIES = (
    ("pegawai di kantor itu", "wajib mengikuti apel pagi"),
    ("peserta seleksi", "membawa kartu ujian"),
    ("dokter di puskesmas itu", "bertugas secara bergiliran"),
    ("siswa kelas unggulan", "mengikuti olimpiade sains"),
    ("anggota koperasi", "membayar iuran wajib"),
    ("pengendara sepeda motor", "memakai helm"),
    ("buah di kebun itu", "dipanen pada bulan Juni"),
    ("pegawai baru", "mengikuti pelatihan dasar"),
)


def _pos(clause: str) -> str:
    return clause.replace(" | ", " ")


def _neg(clause: str) -> str:
    return clause.replace(" | ", " tidak ")


def _sinonim(rng: random.Random) -> ChoiceDraft:
    word, key = rng.choice(SINONIM)
    pool = [s for w, s in SINONIM if w != word] + [a for _, a in ANTONIM]
    stem = rng.choice(
        (
            f'Sinonim kata "{word.upper()}" adalah ....',
            f'Kata yang paling dekat maknanya dengan "{word.upper()}" adalah ....',
        )
    )
    related = [y for x, y in SINONIM if x in (word, key)] + [x for x, y in SINONIM if y == key]
    return ChoiceDraft(stem, key, pick_distractors(rng, pool, [key, word, *related]))


def _antonim(rng: random.Random) -> ChoiceDraft:
    word, key = rng.choice(ANTONIM)
    pool = [a for w, a in ANTONIM if w != word] + [s for _, s in SINONIM]
    stem = rng.choice(
        (
            f'Antonim kata "{word.upper()}" adalah ....',
            f'Lawan kata "{word.upper()}" adalah ....',
        )
    )
    return ChoiceDraft(stem, key, pick_distractors(rng, pool, [key, word]))


def _analogi(rng: random.Random) -> ChoiceDraft:
    _, pairs = rng.choice(ANALOGI)
    (a, b), (c, key) = rng.sample(pairs, 2)
    pool = [y for _, y in pairs] + [x for x, _ in pairs]
    stem = f"{a.upper()} : {b.upper()} = {c.upper()} : ...."
    return ChoiceDraft(
        stem, key.upper(), tuple(x.upper() for x in pick_distractors(rng, pool, [key, b, c, a]))
    )


def _silogisme_kategori(rng: random.Random) -> ChoiceDraft:
    group, prop = rng.choice(CATEGORIES)
    name = rng.choice(NAMES)
    if rng.random() < 0.5:
        stem = f"Semua {group} {prop}. {name} adalah salah satu {group}. Simpulan yang tepat adalah ...."
        key = f"{name} {prop}"
        wrong = (
            f"{name} belum tentu {prop}",
            f"{name} tidak {prop}",
            f"Sebagian {group} tidak {prop}",
            "Tidak dapat ditarik simpulan",
        )
    else:
        stem = f"Semua {group} {prop}. {name} tidak {prop}. Simpulan yang tepat adalah ...."
        key = f"{name} bukan {group}"
        wrong = (
            f"{name} adalah {group}",
            f"{name} mungkin {group}",
            f"Semua yang {prop} adalah {group}",
            "Tidak dapat ditarik simpulan",
        )
    return ChoiceDraft(stem, key[0].upper() + key[1:], tuple(w[0].upper() + w[1:] for w in wrong))


def _silogisme_kondisional(rng: random.Random) -> ChoiceDraft:
    p_, q_, r_ = rng.choice(CHAINS)
    p, q, r = _pos(p_), _pos(q_), _pos(r_)
    np_, nq, nr = _neg(p_), _neg(q_), _neg(r_)
    form = rng.randrange(3)
    if form == 0:  # modus ponens
        stem = f"Jika {p}, maka {q}. Ternyata {p}. Simpulan yang tepat adalah ...."
        key = q
        wrong = (nq, np_, f"belum tentu {q}", "tidak dapat ditarik simpulan")
    elif form == 1:  # modus tollens
        stem = f"Jika {p}, maka {q}. Ternyata {nq}. Simpulan yang tepat adalah ...."
        key = np_
        wrong = (p, q, f"jika {np_}, maka {nq}", "tidak dapat ditarik simpulan")
    else:  # hypothetical syllogism
        stem = f"Jika {p}, maka {q}. Jika {q}, maka {r}. Simpulan yang tepat adalah ...."
        key = f"jika {p}, maka {r}"
        wrong = (
            f"jika {r}, maka {p}",
            f"jika {np_}, maka {nr}",
            f"jika {q}, maka {p}",
            f"{r} walaupun {np_}",
        )
    return ChoiceDraft(stem, key[0].upper() + key[1:], tuple(w[0].upper() + w[1:] for w in wrong))


# ---------------------------------------------------------------------------
# Numerik
# ---------------------------------------------------------------------------


def fmt_number(x: Fraction | int | float) -> str:
    """Indonesian number format: thousands with '.', decimals with ','."""
    value = Fraction(x)
    if value.denominator == 1:
        return f"{int(value):,}".replace(",", ".")
    text = f"{float(value):,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def _numeric_options(
    rng: random.Random, key: int | Fraction, slips: Sequence[int | Fraction], unit: str = ""
) -> tuple[str, tuple[str, ...]]:
    """Key and four distinct distractors (the slips first, then near misses)."""
    seen = {Fraction(key)}
    out: list[Fraction] = []
    candidates = [Fraction(s) for s in slips]
    step = max(1, abs(int(key)) // 10) if Fraction(key).denominator == 1 else Fraction(1, 2)
    candidates += [Fraction(key) + k * step for k in (1, -1, 2, -2, 3, 4, -3, 5)]
    for cand in candidates:
        if cand not in seen and cand >= 0:
            seen.add(cand)
            out.append(cand)
        if len(out) == 4:
            break
    rng.shuffle(out)

    def show(v: Fraction | int) -> str:
        return f"{unit}{fmt_number(v)}" if unit.startswith("Rp") else f"{fmt_number(v)}{unit}"

    return show(key), tuple(show(v) for v in out)


def _deret(rng: random.Random) -> ChoiceDraft:
    kind = rng.randrange(5)
    if kind == 0:
        a, d = rng.randint(1, 40), rng.randint(2, 13)
        seq = [a + d * i for i in range(6)]
        slips = [seq[-1] + d + 1, seq[-1] + d - 1, seq[-1] + 2 * d]
    elif kind == 1:
        a, r = rng.randint(1, 6), rng.choice((2, 3))
        seq = [a * r**i for i in range(6)]
        slips = [seq[-1] * r + r, seq[-1] + seq[-2], seq[-1] * (r + 1)]
    elif kind == 2:  # second differences constant
        a, d, e = rng.randint(1, 20), rng.randint(1, 5), rng.randint(1, 4)
        seq = [a]
        for i in range(5):
            seq.append(seq[-1] + d + e * i)
        slips = [seq[-1] + d + e * 4, seq[-1] + d + e * 6, seq[-1] + 2 * (d + e * 4)]
    elif kind == 3:  # two interleaved series
        a, b = rng.randint(1, 20), rng.randint(30, 60)
        d1, d2 = rng.randint(2, 6), -rng.randint(1, 4)
        seq = [a + d1 * (i // 2) if i % 2 == 0 else b + d2 * (i // 2) for i in range(6)]
        nxt = a + d1 * 3
        slips = [seq[-1] + d2, nxt + d1, seq[-1] - d1]
        seq.append(nxt)
        shown, key = seq[:-1], seq[-1]
        stem = f"Bilangan berikutnya dari deret {', '.join(map(str, shown))}, ... adalah ...."
        k, dist = _numeric_options(rng, key, slips)
        return ChoiceDraft(stem, k, dist)
    else:  # Fibonacci-like
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        seq = [a, b]
        for _ in range(4):
            seq.append(seq[-1] + seq[-2])
        slips = [seq[-1] * 2, seq[-1] + seq[-3], seq[-1] + 1]
    shown, key = seq[:-1], seq[-1]
    stem = rng.choice(
        (
            f"Bilangan berikutnya dari deret {', '.join(map(str, shown))}, ... adalah ....",
            f"Lanjutan yang tepat dari pola {', '.join(map(str, shown))}, ... adalah ....",
        )
    )
    k, dist = _numeric_options(rng, key, slips)
    return ChoiceDraft(stem, k, dist)


def _aritmetika(rng: random.Random) -> ChoiceDraft:
    key: int | Fraction
    slips: list[int | Fraction]
    kind = rng.randrange(3)
    if kind == 0:
        p = rng.choice((5, 10, 12, 15, 20, 25, 30, 40, 75))
        base = rng.choice((120, 240, 360, 480, 600, 800, 1200, 1500))
        frac = Fraction(rng.choice((1, 2, 3)), rng.choice((4, 5, 8)))
        y = rng.choice((80, 160, 200, 320, 400, 640))
        key = Fraction(p, 100) * base + frac * y
        stem = f"Hasil dari {p}% × {fmt_number(base)} + {frac.numerator}/{frac.denominator} × {y} adalah ...."
        slips = [
            Fraction(p, 100) * base + y,
            Fraction(p, 10) * base + frac * y,
            abs(Fraction(p, 100) * base - frac * y),
        ]
    elif kind == 1:
        a, b = rng.randint(12, 99), rng.randint(11, 49)
        c = rng.randint(2, 9)
        key = Fraction(a * b - c * b)
        stem = f"Nilai dari {a} × {b} − {c} × {b} adalah ...."
        slips = [Fraction((a * b - c) * b), Fraction(a * b - c), Fraction((a + c) * b)]
    else:
        fx = rng.choice((Fraction(1, 4), Fraction(3, 8), Fraction(2, 5), Fraction(5, 6)))
        fy = rng.choice((Fraction(1, 2), Fraction(2, 3), Fraction(3, 4), Fraction(1, 3)))
        key = fx + fy
        stem = f"Hasil dari {fx.numerator}/{fx.denominator} + {fy.numerator}/{fy.denominator} adalah ...."
        slips = [
            Fraction(fx.numerator + fy.numerator, fx.denominator + fy.denominator),
            fx * fy,
            abs(fx - fy),
        ]

        def frac_text(v: Fraction) -> str:
            if v.denominator == 1:
                return str(v.numerator)
            whole, rest = divmod(v.numerator, v.denominator)
            return f"{whole} {rest}/{v.denominator}" if whole else f"{rest}/{v.denominator}"

        total = fx + fy
        seen = {total}
        frac_dist: list[str] = []
        for v in [*slips, total + Fraction(1, 12), total - Fraction(1, 12), total + Fraction(1, 6)]:
            if v not in seen and v > 0:
                seen.add(Fraction(v))
                frac_dist.append(frac_text(Fraction(v)))
        return ChoiceDraft(stem, frac_text(total), tuple(frac_dist[:4]))
    k, dist = _numeric_options(rng, key, slips)
    return ChoiceDraft(stem, k, dist)


def _cerita(rng: random.Random) -> ChoiceDraft:
    key: int | Fraction
    kind = rng.randrange(5)
    name = rng.choice(NAMES)
    if kind == 0:  # speed, distance, time
        v = rng.choice((40, 45, 50, 60, 72, 80))
        t = rng.choice((Fraction(3, 2), Fraction(2), Fraction(5, 2), Fraction(3), Fraction(9, 4)))
        d = v * t
        stem = (
            f"{name} mengendarai mobil dinas dengan kecepatan rata-rata {v} km/jam selama "
            f"{fmt_number(t)} jam. Jarak yang ditempuh {name} adalah ...."
        )
        k, dist = _numeric_options(rng, d, [v + t * 10, d + v, v * (t + 1)], " km")
    elif kind == 1:  # work rate
        a, b = rng.choice(((6, 3), (12, 6), (10, 15), (12, 4), (20, 30), (8, 24), (6, 12)))
        key = Fraction(a * b, a + b)
        stem = (
            f"{name} dapat menyelesaikan penginputan data dalam {a} hari, sedangkan rekannya "
            f"dalam {b} hari. Jika bekerja bersama, pekerjaan itu selesai dalam ...."
        )
        k, dist = _numeric_options(
            rng, key, [Fraction(a + b, 2), Fraction(a + b), abs(a - b)], " hari"
        )
    elif kind == 2:  # discount
        price = rng.choice((150_000, 240_000, 320_000, 450_000, 600_000, 1_250_000))
        p = rng.choice((10, 15, 20, 25, 30, 40))
        key = price * (100 - p) // 100
        stem = (
            f"Harga sebuah printer di toko alat kantor Rp{fmt_number(price)}. Jika mendapat "
            f"diskon {p}%, harga yang harus dibayar adalah ...."
        )
        k, dist = _numeric_options(
            rng, key, [price * p // 100, price - p * 1000, price * (100 - p // 2) // 100], "Rp"
        )
    elif kind == 3:  # average
        n = rng.randint(4, 9)
        avg = rng.randint(60, 85)
        # The newcomer's score is chosen so that the new mean is a whole number.
        new = avg + (n + 1) * rng.randint(1, 3)
        key = Fraction(n * avg + new, n + 1)
        stem = (
            f"Rata-rata nilai {n} peserta pelatihan adalah {avg}. Setelah seorang peserta "
            f"susulan bernilai {new} ditambahkan, rata-ratanya menjadi ...."
        )
        k, dist = _numeric_options(
            rng, key, [Fraction(avg + new, 2), Fraction(n * avg + new, n), avg + 1]
        )
    else:  # ages
        now = rng.randint(5, 15)
        ratio = rng.choice((2, 3, 4))
        years = rng.randint(3, 10)
        key = now * ratio + years
        stem = (
            f"Usia ayah {name} saat ini {ratio} kali usia {name}. Jika usia {name} sekarang "
            f"{now} tahun, usia ayahnya {years} tahun lagi adalah ...."
        )
        k, dist = _numeric_options(
            rng, key, [now * ratio, (now + years) * ratio, now + years], " tahun"
        )
    return ChoiceDraft(stem, k, dist)


# ---------------------------------------------------------------------------
# Figural (text-rendered)
# ---------------------------------------------------------------------------

ARROWS = ("↑", "↗", "→", "↘", "↓", "↙", "←", "↖")  # 45° apart, clockwise
SHAPES = ("●", "■", "▲", "◆", "★", "○", "□", "△", "◇", "☆")
QUARTERS = ("◴", "◷", "◶", "◵")  # a circle's filled quarter turning clockwise


def _arrows(rng: random.Random) -> ChoiceDraft:
    start = rng.randrange(8)
    step = rng.choice((1, 2, 3, -1, -2, -3))
    length = rng.randint(4, 6)
    seq = [ARROWS[(start + step * i) % 8] for i in range(length + 1)]
    key = seq[-1]
    stem = rng.choice(
        (
            f"Perhatikan pola berikut: {'  '.join(seq[:-1])}  ?  Gambar yang tepat untuk "
            "menggantikan tanda tanya adalah ....",
            f"Sebuah panah berputar mengikuti pola {'  '.join(seq[:-1])}  ?  Panah berikutnya "
            "adalah ....",
        )
    )
    return ChoiceDraft(stem, key, pick_distractors(rng, ARROWS, [key]))


def _shape_cycle(rng: random.Random) -> ChoiceDraft:
    k = rng.randint(3, 4)
    cycle = rng.sample(SHAPES, k)
    length = rng.randint(k + 2, 2 * k + 1)
    seq = [cycle[i % k] for i in range(length + 1)]
    key = seq[-1]
    stem = f"Lanjutan pola gambar {' '.join(seq[:-1])} ? adalah ...."
    return ChoiceDraft(stem, key, pick_distractors(rng, SHAPES, [key]))


def _counts(rng: random.Random) -> ChoiceDraft:
    shape = rng.choice(SHAPES)
    kind = rng.randrange(3)
    if kind == 0:
        a, d = rng.randint(1, 3), rng.randint(1, 2)
        counts = [a + d * i for i in range(4)]
    elif kind == 1:
        counts = [1, 2, 4, 8]
    else:
        a = rng.randint(1, 2)
        counts = [a + i * (i + 1) // 2 for i in range(4)]
    key_n = counts[-1]
    shown = "   ".join(shape * c for c in counts[:-1])
    stem = f"Jumlah {shape} bertambah menurut pola: {shown}   ?  Gambar berikutnya adalah ...."
    options = {key_n + delta for delta in (-2, -1, 1, 2, 3) if key_n + delta > 0}
    distractors = [shape * n for n in sorted(options)][:4]
    if len(distractors) < 4:
        distractors.append(rng.choice([s for s in SHAPES if s != shape]) * key_n)
    return ChoiceDraft(stem, shape * key_n, tuple(distractors))


def _analogy_shapes(rng: random.Random) -> ChoiceDraft:
    a, b, c = rng.sample(SHAPES, 3)
    n = rng.randint(2, 3)
    kind = rng.randrange(2)
    if kind == 0:
        stem = f"{a} : {a * n} = {c} : ...."
        key = c * n
        wrong = (c * (n + 1), a * n, c, b * n)
    else:
        stem = f"{a}{b} : {b}{a} = {c}{a} : ...."
        key = f"{a}{c}"
        wrong = (f"{c}{a}", f"{c}{b}", f"{b}{c}", f"{a}{a}")
    return ChoiceDraft(stem, key, wrong)


def _quarter_turn(rng: random.Random) -> ChoiceDraft:
    start = rng.randrange(4)
    step = rng.choice((1, -1, 2))
    length = rng.randint(4, 6)
    seq = [QUARTERS[(start + step * i) % 4] for i in range(length + 1)]
    stem = f"Bagian lingkaran yang diarsir berputar mengikuti pola {' '.join(seq[:-1])} ? Gambar berikutnya adalah ...."
    others = [q for q in QUARTERS if q != seq[-1]] + ["◯"]
    return ChoiceDraft(stem, seq[-1], tuple(others))


GENERATORS: dict[str, tuple[tuple[ChoiceGenerator, float], ...]] = {
    "verbal": (
        (_sinonim, 3.0),
        (_antonim, 3.0),
        (_analogi, 2.0),
        (_silogisme_kategori, 1.5),
        (_silogisme_kondisional, 2.0),
    ),
    "numerik": ((_deret, 3.0), (_aritmetika, 2.0), (_cerita, 3.0)),
    "figural": (
        (_arrows, 2.0),
        (_shape_cycle, 2.0),
        (_counts, 1.5),
        (_analogy_shapes, 1.5),
        (_quarter_turn, 1.0),
    ),
}
