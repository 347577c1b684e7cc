# ruff: noqa: E501  (the item texts are prose; breaking them would hurt reading them)
"""Demo TWK (Tes Wawasan Kebangsaan) item drafts, by content area.

Facts are public civic knowledge (Pancasila, UUD NRI 1945, national
history, bela negara, standard Indonesian spelling per KBBI); the wording is
templated with varied phrasings and situations. Items built on the same
fact share an enemy group.
"""

from __future__ import annotations

import random

from item_bank.demo_drafts import (
    AGENCIES,
    NAMES,
    ChoiceDraft,
    ChoiceGenerator,
    pick_distractors,
)

# ---------------------------------------------------------------------------
# Pilar negara: Pancasila, UUD NRI 1945, Bhinneka Tunggal Ika, NKRI
# ---------------------------------------------------------------------------

SILA = (
    "Ketuhanan Yang Maha Esa",
    "Kemanusiaan yang adil dan beradab",
    "Persatuan Indonesia",
    "Kerakyatan yang dipimpin oleh hikmat kebijaksanaan dalam permusyawaratan/perwakilan",
    "Keadilan sosial bagi seluruh rakyat Indonesia",
)
LAMBANG = ("bintang", "rantai", "pohon beringin", "kepala banteng", "padi dan kapas")
ORDINAL = ("pertama", "kedua", "ketiga", "keempat", "kelima")
PENGAMALAN = (
    (
        "menghormati teman yang sedang menjalankan ibadah",
        "tidak memaksakan suatu agama kepada orang lain",
        "memberi kesempatan rekan kerja beribadah sesuai keyakinannya",
        "membina kerukunan antarumat beragama di lingkungan kantor",
    ),
    (
        "mengakui persamaan derajat setiap manusia",
        "tidak semena-mena terhadap orang lain",
        "gemar melakukan kegiatan kemanusiaan",
        "membela kebenaran dan keadilan bagi korban perundungan",
    ),
    (
        "menempatkan kepentingan bangsa di atas kepentingan pribadi dan golongan",
        "bangga menggunakan produk dalam negeri",
        "mengembangkan pergaulan demi persatuan bangsa",
        "bersedia berkorban untuk kepentingan bangsa dan negara",
    ),
    (
        "mengutamakan musyawarah untuk mencapai mufakat",
        "menerima hasil keputusan rapat dengan lapang dada",
        "tidak memaksakan kehendak kepada orang lain dalam rapat",
        "melaksanakan keputusan bersama dengan penuh tanggung jawab",
    ),
    (
        "bersikap adil terhadap sesama",
        "menghormati hak orang lain",
        "tidak melakukan perbuatan yang merugikan kepentingan umum",
        "suka bekerja keras dan menghargai hasil karya orang lain",
    ),
)

# (article, what it lays down) in the amended UUD NRI 1945.
PASAL = (
    ("Pasal 1 ayat (1)", "Negara Indonesia ialah negara kesatuan yang berbentuk republik"),
    ("Pasal 1 ayat (2)", "kedaulatan berada di tangan rakyat dan dilaksanakan menurut UUD"),
    ("Pasal 1 ayat (3)", "Negara Indonesia adalah negara hukum"),
    ("Pasal 4 ayat (1)", "Presiden memegang kekuasaan pemerintahan menurut UUD"),
    ("Pasal 7", "masa jabatan Presiden dan Wakil Presiden selama lima tahun"),
    (
        "Pasal 22E ayat (1)",
        "pemilihan umum dilaksanakan secara langsung, umum, bebas, rahasia, jujur, dan adil setiap lima tahun sekali",
    ),
    ("Pasal 24C ayat (1)", "kewenangan Mahkamah Konstitusi menguji undang-undang terhadap UUD"),
    ("Pasal 27 ayat (1)", "persamaan kedudukan warga negara di dalam hukum dan pemerintahan"),
    ("Pasal 27 ayat (2)", "hak warga negara atas pekerjaan dan penghidupan yang layak"),
    ("Pasal 27 ayat (3)", "hak dan kewajiban warga negara ikut serta dalam upaya pembelaan negara"),
    ("Pasal 28E ayat (3)", "kebebasan berserikat, berkumpul, dan mengeluarkan pendapat"),
    (
        "Pasal 29 ayat (2)",
        "jaminan kemerdekaan tiap penduduk memeluk agama dan beribadat menurut agamanya",
    ),
    (
        "Pasal 30 ayat (1)",
        "hak dan kewajiban warga negara ikut serta dalam usaha pertahanan dan keamanan negara",
    ),
    ("Pasal 31 ayat (1)", "hak setiap warga negara mendapat pendidikan"),
    ("Pasal 31 ayat (4)", "anggaran pendidikan sekurang-kurangnya 20 persen dari APBN dan APBD"),
    (
        "Pasal 33 ayat (3)",
        "bumi, air, dan kekayaan alam dikuasai negara untuk sebesar-besar kemakmuran rakyat",
    ),
    ("Pasal 34 ayat (1)", "fakir miskin dan anak terlantar dipelihara oleh negara"),
    ("Pasal 35", "bendera negara Indonesia ialah Sang Merah Putih"),
    ("Pasal 36", "bahasa negara ialah Bahasa Indonesia"),
    ("Pasal 36A", "lambang negara ialah Garuda Pancasila dengan semboyan Bhinneka Tunggal Ika"),
    ("Pasal 36B", "lagu kebangsaan ialah Indonesia Raya"),
    (
        "Pasal 37 ayat (5)",
        "bentuk Negara Kesatuan Republik Indonesia tidak dapat dilakukan perubahan",
    ),
)

PILAR_FACTS = (
    (
        "Semboyan Bhinneka Tunggal Ika diambil dari kitab",
        "Sutasoma karya Mpu Tantular",
        (
            "Negarakertagama karya Mpu Prapanca",
            "Arjunawiwaha karya Mpu Kanwa",
            "Pararaton",
            "Bharatayudha karya Mpu Sedah dan Mpu Panuluh",
        ),
    ),
    (
        "Hari Lahir Pancasila diperingati setiap tanggal",
        "1 Juni",
        ("1 Oktober", "17 Agustus", "18 Agustus", "22 Juni"),
    ),
    (
        "Hari Kesaktian Pancasila diperingati setiap tanggal",
        "1 Oktober",
        ("1 Juni", "30 September", "28 Oktober", "10 November"),
    ),
    (
        "UUD 1945 disahkan oleh PPKI pada tanggal",
        "18 Agustus 1945",
        ("17 Agustus 1945", "1 Juni 1945", "22 Juni 1945", "29 Mei 1945"),
    ),
    (
        "Piagam Jakarta dirumuskan oleh Panitia Sembilan pada tanggal",
        "22 Juni 1945",
        ("1 Juni 1945", "18 Agustus 1945", "29 April 1945", "7 Agustus 1945"),
    ),
    (
        "Amandemen UUD 1945 dilakukan oleh MPR sebanyak",
        "empat kali (1999–2002)",
        (
            "dua kali (1999–2000)",
            "tiga kali (1999–2001)",
            "lima kali (1999–2003)",
            "satu kali (2002)",
        ),
    ),
    (
        "Jumlah bulu pada leher Garuda Pancasila adalah",
        "45 helai",
        ("17 helai", "8 helai", "19 helai", "5 helai"),
    ),
    (
        "Jumlah bulu pada setiap sayap Garuda Pancasila adalah",
        "17 helai",
        ("45 helai", "8 helai", "19 helai", "10 helai"),
    ),
    (
        "Lembaga yang berwenang mengubah dan menetapkan UUD adalah",
        "Majelis Permusyawaratan Rakyat",
        ("Dewan Perwakilan Rakyat", "Presiden", "Mahkamah Konstitusi", "Dewan Perwakilan Daerah"),
    ),
    (
        "Pancasila sebagai dasar negara tercantum dalam UUD NRI 1945 pada",
        "Pembukaan alinea keempat",
        ("Pembukaan alinea pertama", "Pembukaan alinea kedua", "Pasal 1 ayat (1)", "Pasal 36A"),
    ),
)


def _sila_text(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(5)
    stem = rng.choice(
        (
            f"Bunyi sila {ORDINAL[i]} Pancasila adalah ....",
            f"Rumusan sila ke-{i + 1} Pancasila yang tercantum dalam Pembukaan UUD NRI 1945 adalah ....",
            f"Manakah rumusan sila ke-{i + 1} Pancasila yang benar?",
        )
    )
    wrong = [s for j, s in enumerate(SILA) if j != i][:3]
    corrupted = (
        SILA[i]
        .replace("Esa", "Kuasa")
        .replace("beradab", "makmur")
        .replace("Persatuan Indonesia", "Kesatuan Indonesia")
        .replace("hikmat kebijaksanaan", "hikmah kebijakan")
        .replace("sosial", "sejahtera")
    )
    return ChoiceDraft(stem, SILA[i], (*wrong, corrupted), fact=f"sila-{i + 1}")


def _sila_number(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(5)
    stem = rng.choice(
        (
            f'"{SILA[i]}" merupakan bunyi sila ke- ....',
            f'Dalam Pancasila, rumusan "{SILA[i]}" terdapat pada sila ....',
        )
    )
    options = [f"Sila {ORDINAL[j]}" for j in range(5)]
    return ChoiceDraft(
        stem, options[i], tuple(o for j, o in enumerate(options) if j != i), fact=f"sila-{i + 1}"
    )


def _lambang(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(5)
    if rng.random() < 0.5:
        stem = rng.choice(
            (
                f"Lambang sila {ORDINAL[i]} Pancasila pada perisai Garuda Pancasila adalah ....",
                f'Sila "{SILA[i]}" dilambangkan dengan ....',
            )
        )
        return ChoiceDraft(
            stem,
            LAMBANG[i],
            (*[x for j, x in enumerate(LAMBANG) if j != i][:3], "bunga melati"),
            fact=f"lambang-{i + 1}",
        )
    stem = f"Lambang {LAMBANG[i]} pada perisai Garuda Pancasila melambangkan sila ...."
    options = [f"Sila ke-{j + 1}: {SILA[j]}" for j in range(5)]
    return ChoiceDraft(
        stem, options[i], tuple(o for j, o in enumerate(options) if j != i), fact=f"lambang-{i + 1}"
    )


def _pengamalan(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(5)
    act = rng.choice(PENGAMALAN[i])
    name = rng.choice(NAMES)
    stem = rng.choice(
        (
            f"Sikap {act} merupakan pengamalan Pancasila sila ke- ....",
            f"{name} selalu berusaha {act}. Perilaku {name} mencerminkan pengamalan sila ....",
            f"Dalam kehidupan bermasyarakat, perilaku {act} sesuai dengan nilai sila ....",
        )
    )
    options = [f"Sila ke-{j + 1}" for j in range(5)]
    return ChoiceDraft(stem, options[i], tuple(o for j, o in enumerate(options) if j != i))


def _pasal_content(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(len(PASAL))
    pasal, content = PASAL[i]
    stem = rng.choice(
        (
            f"{pasal} UUD NRI Tahun 1945 mengatur tentang ....",
            f"Ketentuan dalam {pasal} UUD NRI Tahun 1945 adalah ....",
        )
    )
    pool = [c for p, c in PASAL if p != pasal]
    return ChoiceDraft(stem, content, pick_distractors(rng, pool, [content]), fact=f"pasal-{i}")


def _pasal_number(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(len(PASAL))
    pasal, content = PASAL[i]
    stem = rng.choice(
        (
            f"Ketentuan bahwa {content} diatur dalam UUD NRI Tahun 1945 ....",
            f"Dasar konstitusional mengenai {content} terdapat dalam UUD NRI Tahun 1945 ....",
        )
    )
    pool = [p for p, _ in PASAL]
    return ChoiceDraft(stem, pasal, pick_distractors(rng, pool, [pasal]), fact=f"pasal-{i}")


def _pilar_fact(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(len(PILAR_FACTS))
    question, key, wrong = PILAR_FACTS[i]
    return ChoiceDraft(f"{question} ....", key, wrong, fact=f"pilar-{i}")


# ---------------------------------------------------------------------------
# Nasionalisme: national history and attitudes
# ---------------------------------------------------------------------------

HISTORY = (
    (
        "Sumpah Pemuda diikrarkan pada Kongres Pemuda II tanggal",
        "28 Oktober 1928",
        ("20 Mei 1908", "17 Agustus 1945", "10 November 1945", "2 Mei 1922"),
    ),
    (
        "Organisasi Budi Utomo yang menandai Hari Kebangkitan Nasional berdiri pada tanggal",
        "20 Mei 1908",
        ("28 Oktober 1928", "16 Oktober 1905", "25 Desember 1912", "3 Juli 1922"),
    ),
    (
        "Teks Proklamasi Kemerdekaan Indonesia diketik oleh",
        "Sayuti Melik",
        ("B.M. Diah", "Sukarni", "Achmad Soebardjo", "Chairul Saleh"),
    ),
    (
        "Proklamasi Kemerdekaan Indonesia dibacakan di",
        "Jalan Pegangsaan Timur 56, Jakarta",
        (
            "Lapangan Ikada, Jakarta",
            "Rengasdengklok, Karawang",
            "Gedung Joang 45, Jakarta",
            "Rumah Laksamana Maeda, Jakarta",
        ),
    ),
    (
        "Lagu kebangsaan Indonesia Raya diciptakan oleh",
        "Wage Rudolf Supratman",
        ("Ismail Marzuki", "Cornel Simanjuntak", "Kusbini", "H. Mutahar"),
    ),
    (
        "Bendera Pusaka Sang Saka Merah Putih dijahit oleh",
        "Fatmawati",
        ("Rahmi Hatta", "R.A. Kartini", "Cut Nyak Dhien", "S.K. Trimurti"),
    ),
    (
        "Hari Pahlawan diperingati setiap 10 November untuk mengenang",
        "pertempuran Surabaya tahun 1945",
        (
            "Serangan Umum 1 Maret 1949",
            "Palagan Ambarawa",
            "Bandung Lautan Api",
            "pertempuran Medan Area",
        ),
    ),
    (
        "Peristiwa Rengasdengklok terjadi pada tanggal",
        "16 Agustus 1945",
        ("17 Agustus 1945", "15 Agustus 1945", "18 Agustus 1945", "14 Agustus 1945"),
    ),
    (
        "Konferensi Asia Afrika tahun 1955 diselenggarakan di kota",
        "Bandung",
        ("Jakarta", "Yogyakarta", "Bogor", "Surabaya"),
    ),
    (
        "Tokoh yang dikenal sebagai Bapak Pendidikan Nasional dan pendiri Taman Siswa adalah",
        "Ki Hajar Dewantara",
        ("Dr. Soetomo", "K.H. Ahmad Dahlan", "Dewi Sartika", "Tjipto Mangoenkoesoemo"),
    ),
    (
        "Deklarasi Djuanda tahun 1957 menegaskan",
        "laut di antara pulau-pulau Indonesia sebagai wilayah kedaulatan Indonesia",
        (
            "pembentukan Gerakan Non-Blok",
            "pengakuan kedaulatan oleh Belanda",
            "pembentukan Provinsi Irian Barat",
            "penggunaan Bahasa Indonesia sebagai bahasa negara",
        ),
    ),
    (
        "Serangan Umum 1 Maret 1949 terjadi di kota",
        "Yogyakarta",
        ("Surabaya", "Bandung", "Semarang", "Magelang"),
    ),
    (
        "Perang Jawa (1825–1830) dipimpin oleh",
        "Pangeran Diponegoro",
        ("Sultan Ageng Tirtayasa", "Tuanku Imam Bonjol", "Sultan Hasanuddin", "Pattimura"),
    ),
    (
        'Tokoh yang dijuluki "Ayam Jantan dari Timur" adalah',
        "Sultan Hasanuddin",
        ("Sultan Baabullah", "Pattimura", "Sultan Nuku", "I Gusti Ketut Jelantik"),
    ),
    (
        "Indische Partij (1912) didirikan oleh tokoh yang dikenal sebagai",
        "Tiga Serangkai",
        ("Panitia Sembilan", "Dwitunggal", "Trikora", "Tritura"),
    ),
    (
        "Perundingan yang mengakhiri sengketa kedaulatan Indonesia–Belanda pada 1949 adalah",
        "Konferensi Meja Bundar",
        (
            "Perjanjian Linggarjati",
            "Perjanjian Renville",
            "Perjanjian Roem-Royen",
            "Perjanjian Kalijati",
        ),
    ),
    (
        "Hari Bela Negara setiap 19 Desember mengenang berdirinya",
        "Pemerintahan Darurat Republik Indonesia (PDRI) tahun 1948",
        (
            "Badan Keamanan Rakyat tahun 1945",
            "Tentara Keamanan Rakyat tahun 1945",
            "Komite Nasional Indonesia Pusat tahun 1945",
            "Republik Indonesia Serikat tahun 1949",
        ),
    ),
    (
        "Pertempuran yang dikenang sebagai Hari Juang TNI Angkatan Darat setiap 15 Desember adalah",
        "Palagan Ambarawa",
        (
            "Bandung Lautan Api",
            "pertempuran Surabaya",
            "Puputan Margarana",
            "pertempuran Lima Hari di Semarang",
        ),
    ),
)

NASIONALIS_POSITIVE = (
    "mengutamakan penggunaan produk dalam negeri",
    "mengikuti upacara bendera dengan khidmat",
    "mempelajari dan melestarikan kesenian daerah",
    "menggunakan Bahasa Indonesia yang baik dan benar dalam forum resmi",
    "menghargai jasa para pahlawan dengan berprestasi di bidangnya",
    "bergaul tanpa membeda-bedakan suku, agama, dan ras",
    "mempromosikan destinasi wisata Indonesia kepada wisatawan asing",
    "menjaga nama baik bangsa ketika bertugas di luar negeri",
)
NASIONALIS_NEGATIVE = (
    "menganggap budaya bangsa sendiri paling unggul dan merendahkan bangsa lain",
    "lebih bangga memakai produk impor karena dianggap lebih bergengsi",
    "hanya mau bekerja sama dengan orang dari daerah asalnya",
    "menolak mempelajari bahasa asing karena dianggap tidak nasionalis",
    "mengabaikan upacara bendera karena dianggap formalitas",
    "menyebarkan berita tentang keburukan daerah lain di media sosial",
    "meniru gaya hidup bangsa lain tanpa menyaring nilai-nilainya",
    "mengutamakan kepentingan kelompok di atas kepentingan bangsa",
    "menganggap kebudayaan daerah kuno dan tidak perlu dilestarikan",
    "memaksakan adat daerahnya kepada warga dari daerah lain",
)
NASIONALIS_CONTEXTS = (
    "Di tengah arus globalisasi",
    "Sebagai aparatur sipil negara",
    "Dalam kehidupan sehari-hari",
    "Sebagai generasi muda",
    "Di lingkungan kerja yang beragam",
    "Ketika bertugas di daerah perbatasan",
)


def _history(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(len(HISTORY))
    question, key, wrong = HISTORY[i]
    return ChoiceDraft(f"{question} ....", key, wrong, fact=f"sejarah-{i}")


def _nasionalis_sikap(rng: random.Random) -> ChoiceDraft:
    key = rng.choice(NASIONALIS_POSITIVE)
    context = rng.choice(NASIONALIS_CONTEXTS)
    stem = rng.choice(
        (
            f"{context}, sikap yang mencerminkan semangat nasionalisme adalah ....",
            f"{context}, perilaku berikut yang menunjukkan rasa cinta tanah air yang tepat adalah ....",
        )
    )
    return ChoiceDraft(
        stem,
        key[0].upper() + key[1:],
        tuple(x[0].upper() + x[1:] for x in rng.sample(NASIONALIS_NEGATIVE, 4)),
    )


def _chauvinism(rng: random.Random) -> ChoiceDraft:
    name = rng.choice(NAMES)
    wrong = rng.choice(NASIONALIS_NEGATIVE[:1] + NASIONALIS_NEGATIVE[8:10])
    stem = (
        f'{name} berpendapat bahwa sikap "{wrong}" adalah bentuk cinta tanah air. '
        "Pendapat tersebut ...."
    )
    return ChoiceDraft(
        stem,
        "Keliru, karena sikap itu mengarah pada chauvinisme atau merusak persatuan",
        (
            "Benar, karena setiap warga negara wajib membela kepentingan daerahnya",
            "Benar, asalkan tidak dilakukan di depan umum",
            "Keliru, karena nasionalisme tidak diperlukan di era globalisasi",
            "Benar, karena nasionalisme berarti menolak semua pengaruh asing",
        ),
    )


# ---------------------------------------------------------------------------
# Integritas
# ---------------------------------------------------------------------------

INTEGRITY_CASES = (
    (
        "menerima bingkisan dari pemohon izin setelah izinnya terbit",
        "Menolak bingkisan atau melaporkannya sebagai gratifikasi sesuai ketentuan",
        (
            "Menerima bingkisan karena izin sudah selesai diproses",
            "Menerima lalu membagikannya kepada rekan satu unit",
            "Menerima asalkan nilainya tidak terlalu besar",
            "Menyimpan bingkisan dan memutuskannya nanti",
        ),
    ),
    (
        "diminta atasannya menandatangani daftar hadir kegiatan yang tidak pernah dilaksanakan",
        "Menolak dengan sopan dan menjelaskan bahwa hal itu tidak sesuai ketentuan",
        (
            "Menandatangani karena perintah atasan wajib dipatuhi",
            "Menandatangani agar hubungan dengan atasan tetap baik",
            "Meminta bagian dari anggaran kegiatan tersebut",
            "Menandatangani tetapi dengan tanda tangan yang berbeda",
        ),
    ),
    (
        "menemukan kesalahan hitung yang menguntungkan dirinya dalam pembayaran tunjangan",
        "Melaporkan kesalahan itu kepada bagian keuangan agar diperbaiki",
        (
            "Diam saja karena kesalahan bukan berasal darinya",
            "Menggunakan kelebihan itu lebih dahulu lalu mengembalikannya bila ditanya",
            "Memberitahu rekan agar memeriksa tunjangan mereka juga",
            "Menunggu sampai ada pemeriksaan dari inspektorat",
        ),
    ),
    (
        "diminta kerabatnya membantu meloloskan berkas yang tidak memenuhi syarat",
        "Menolak dan menyarankan kerabat melengkapi persyaratan sesuai prosedur",
        (
            "Membantu karena hubungan keluarga harus dijaga",
            "Membantu asalkan tidak ada yang mengetahui",
            "Meminta rekan lain yang meloloskan berkas tersebut",
            "Meloloskan berkas dengan catatan akan dilengkapi kemudian",
        ),
    ),
    (
        "mengetahui rekan kerjanya memakai kendaraan dinas untuk keperluan pribadi setiap akhir pekan",
        "Mengingatkan rekan tersebut dan melaporkannya kepada atasan bila terus berulang",
        (
            "Membiarkan karena bukan urusannya",
            "Ikut meminjam kendaraan dinas untuk keperluan pribadi",
            "Menyebarkan informasi itu di grup media sosial",
            "Meminta imbalan agar tidak melaporkannya",
        ),
    ),
    (
        "ditawari uang pelicin oleh rekanan agar perusahaannya dimenangkan dalam pengadaan",
        "Menolak tawaran dan menjalankan pengadaan sesuai aturan",
        (
            "Menerima tawaran asalkan perusahaan itu memenuhi syarat",
            "Menerima lalu menyumbangkannya ke panti asuhan",
            "Menunda keputusan sambil menunggu tawaran lain",
            "Menyarankan rekanan memberikan uang itu kepada atasan",
        ),
    ),
    (
        "terlambat menyelesaikan laporan dan diminta mengubah tanggal dokumen agar tampak tepat waktu",
        "Mengakui keterlambatan dan menyerahkan laporan dengan tanggal yang sebenarnya",
        (
            "Mengubah tanggal dokumen karena hanya selisih beberapa hari",
            "Menyalahkan rekan kerja atas keterlambatan tersebut",
            "Tidak menyerahkan laporan sama sekali",
            "Menyerahkan laporan tanpa tanggal",
        ),
    ),
    (
        "mendapat soal ujian dinas dari seseorang sehari sebelum ujian",
        "Menolak soal tersebut dan melaporkan kebocoran kepada panitia",
        (
            "Mempelajari soal tersebut karena tidak ada yang tahu",
            "Membagikan soal kepada rekan agar semua lulus",
            "Menyimpan soal untuk berjaga-jaga",
            "Menjual soal tersebut kepada peserta lain",
        ),
    ),
)
INTEGRITY_CONCEPTS = (
    (
        "Integritas seorang aparatur sipil negara paling tepat diartikan sebagai",
        "Keselarasan antara ucapan, tindakan, dan nilai-nilai kejujuran",
        (
            "Kepatuhan mutlak kepada perintah atasan",
            "Kemampuan menyelesaikan pekerjaan dengan cepat",
            "Kesetiaan kepada rekan satu angkatan",
            "Kepandaian menjaga citra di depan publik",
        ),
    ),
    (
        "Menurut UU Nomor 20 Tahun 2001, penerima gratifikasi wajib melaporkannya kepada KPK paling lambat",
        "30 hari kerja sejak gratifikasi diterima",
        (
            "7 hari kerja sejak gratifikasi diterima",
            "14 hari kalender sejak gratifikasi diterima",
            "60 hari kerja sejak gratifikasi diterima",
            "akhir tahun anggaran berjalan",
        ),
    ),
    (
        "Benturan kepentingan dalam jabatan publik terjadi ketika",
        "Kepentingan pribadi berpotensi memengaruhi keputusan dalam jabatan",
        (
            "Dua pegawai memiliki pendapat yang berbeda dalam rapat",
            "Seorang pegawai menolak perintah yang melanggar hukum",
            "Atasan memberikan tugas tambahan kepada bawahan",
            "Pegawai mengikuti pelatihan di luar kantor",
        ),
    ),
    (
        'Nilai dasar ASN "BerAKHLAK" yang berarti memegang teguh ideologi Pancasila dan setia kepada NKRI adalah',
        "Loyal",
        ("Akuntabel", "Harmonis", "Adaptif", "Kolaboratif"),
    ),
    (
        'Nilai dasar ASN "BerAKHLAK" yang berarti bertanggung jawab atas kepercayaan yang diberikan adalah',
        "Akuntabel",
        ("Loyal", "Kompeten", "Harmonis", "Berorientasi pelayanan"),
    ),
)


def _integrity_case(rng: random.Random) -> ChoiceDraft:
    situation, key, wrong = rng.choice(INTEGRITY_CASES)
    name = rng.choice(NAMES)
    agency = rng.choice(AGENCIES)
    stem = rng.choice(
        (
            f"{name}, pegawai di {agency}, {situation}. Tindakan yang mencerminkan integritas adalah ....",
            f"Sebagai pegawai {agency}, {name} {situation}. Sikap yang seharusnya diambil {name} adalah ....",
        )
    )
    return ChoiceDraft(stem, key, wrong)


def _integrity_concept(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(len(INTEGRITY_CONCEPTS))
    question, key, wrong = INTEGRITY_CONCEPTS[i]
    return ChoiceDraft(f"{question} ....", key, wrong, fact=f"integritas-{i}")


# ---------------------------------------------------------------------------
# Bela negara
# ---------------------------------------------------------------------------

NILAI_BELA_NEGARA = (
    "cinta tanah air",
    "sadar berbangsa dan bernegara",
    "setia kepada Pancasila sebagai ideologi negara",
    "rela berkorban untuk bangsa dan negara",
    "memiliki kemampuan awal bela negara",
)
BELA_NEGARA_ACTS = (
    ("menjaga kelestarian lingkungan di sekitar tempat tinggalnya", 0),
    ("bangga memakai batik buatan perajin lokal", 0),
    ("menggunakan hak pilih dalam pemilihan umum", 1),
    ("membayar pajak tepat waktu", 1),
    ("menaati peraturan lalu lintas", 1),
    ("menolak paham yang ingin mengganti dasar negara", 2),
    ("menjadikan Pancasila pedoman dalam mengambil keputusan", 2),
    ("menjadi relawan ketika terjadi bencana alam", 3),
    ("menyumbangkan tenaga dan pikiran untuk pembangunan desanya", 3),
    ("menjaga kebugaran jasmani dan mengikuti pelatihan dasar kedisiplinan", 4),
    ("belajar sungguh-sungguh agar mampu bersaing secara global", 4),
)
THREATS = (
    ("penyebaran narkoba di kalangan pelajar", "nonmiliter"),
    ("serangan siber terhadap sistem perbankan nasional", "nonmiliter"),
    ("penyebaran berita bohong yang memecah belah masyarakat", "nonmiliter"),
    ("pandemi penyakit menular", "nonmiliter"),
    ("penyelundupan barang dan perdagangan manusia", "nonmiliter"),
    ("agresi bersenjata negara lain", "militer"),
    ("pelanggaran wilayah udara oleh pesawat tempur asing", "militer"),
    ("pemberontakan bersenjata", "militer"),
    ("aksi teror bersenjata", "militer"),
    ("blokade laut oleh kekuatan asing", "militer"),
)
BELA_FACTS = (
    (
        "Hak dan kewajiban warga negara ikut serta dalam upaya pembelaan negara diatur dalam UUD NRI 1945",
        "Pasal 27 ayat (3)",
        ("Pasal 28E ayat (3)", "Pasal 31 ayat (1)", "Pasal 33 ayat (3)", "Pasal 36A"),
    ),
    (
        "Undang-undang yang mengatur pengelolaan sumber daya nasional untuk pertahanan negara, termasuk komponen cadangan, adalah",
        "UU Nomor 23 Tahun 2019",
        (
            "UU Nomor 5 Tahun 2014",
            "UU Nomor 20 Tahun 2001",
            "UU Nomor 12 Tahun 2011",
            "UU Nomor 24 Tahun 2009",
        ),
    ),
    (
        "Sistem pertahanan negara Indonesia disebut",
        "sistem pertahanan dan keamanan rakyat semesta",
        (
            "sistem pertahanan militer terpusat",
            "sistem pertahanan kolektif regional",
            "sistem wajib militer penuh",
            "sistem pertahanan berbasis aliansi",
        ),
    ),
)


def _bela_act(rng: random.Random) -> ChoiceDraft:
    act, nilai = rng.choice(BELA_NEGARA_ACTS)
    name = rng.choice(NAMES)
    stem = rng.choice(
        (
            f"{name} {act}. Perilaku tersebut terutama mencerminkan nilai dasar bela negara ....",
            f"Perilaku {act} merupakan wujud nilai dasar bela negara ....",
        )
    )
    options = [n[0].upper() + n[1:] for n in NILAI_BELA_NEGARA]
    return ChoiceDraft(stem, options[nilai], tuple(o for j, o in enumerate(options) if j != nilai))


def _threat(rng: random.Random) -> ChoiceDraft:
    kind = rng.choice(("militer", "nonmiliter"))
    same = [t for t, k in THREATS if k == kind]
    other = [t for t, k in THREATS if k != kind]
    key = rng.choice(other)
    examples = rng.sample(same, 4)
    stem = f"Berikut yang BUKAN termasuk ancaman {kind} terhadap negara adalah ...."
    return ChoiceDraft(
        stem, key[0].upper() + key[1:], tuple(e[0].upper() + e[1:] for e in examples)
    )


def _bela_fact(rng: random.Random) -> ChoiceDraft:
    i = rng.randrange(len(BELA_FACTS))
    question, key, wrong = BELA_FACTS[i]
    return ChoiceDraft(f"{question} ....", key, wrong, fact=f"bela-{i}")


# ---------------------------------------------------------------------------
# Bahasa Indonesia: standard words (KBBI)
# ---------------------------------------------------------------------------

BAKU = (
    ("apotek", "apotik"),
    ("praktik", "praktek"),
    ("kualitas", "kwalitas"),
    ("aktivitas", "aktifitas"),
    ("analisis", "analisa"),
    ("antre", "antri"),
    ("cendekiawan", "cendikiawan"),
    ("hakikat", "hakekat"),
    ("ijazah", "ijasah"),
    ("izin", "ijin"),
    ("jadwal", "jadual"),
    ("kategori", "katagori"),
    ("kuitansi", "kwitansi"),
    ("lembap", "lembab"),
    ("nasihat", "nasehat"),
    ("objek", "obyek"),
    ("risiko", "resiko"),
    ("sistem", "sistim"),
    ("teknik", "tehnik"),
    ("utang", "hutang"),
    ("zaman", "jaman"),
    ("karier", "karir"),
    ("mengubah", "merubah"),
    ("autentik", "otentik"),
    ("frekuensi", "frekwensi"),
    ("ekstrem", "ekstrim"),
    ("imbau", "himbau"),
    ("jenazah", "jenasah"),
    ("kaidah", "kaedah"),
    ("konkret", "kongkrit"),
    ("metode", "metoda"),
    ("napas", "nafas"),
    ("provinsi", "propinsi"),
    ("rezeki", "rejeki"),
    ("sekadar", "sekedar"),
    ("silakan", "silahkan"),
    ("subjek", "subyek"),
    ("teladan", "tauladan"),
    ("saksama", "seksama"),
    ("khawatir", "kuatir"),
    ("nomor", "nomer"),
    ("terampil", "trampil"),
    ("kaus", "kaos"),
    ("cabai", "cabe"),
    ("hierarki", "hirarki"),
    ("kompleks", "komplek"),
    ("miliar", "milyar"),
    ("orisinal", "orisinil"),
    ("detail", "detil"),
    ("standardisasi", "standarisasi"),
    ("atlet", "atlit"),
    ("andal", "handal"),
    ("embus", "hembus"),
    ("februari", "pebruari"),
    ("november", "nopember"),
    ("manajemen", "managemen"),
    ("sertifikat", "sertipikat"),
    ("telepon", "telpon"),
    ("efektif", "efektip"),
    ("indra", "indera"),
)
DI_OBJECTS = (
    "Berkas itu",
    "Surat undangan itu",
    "Dokumen kontrak itu",
    "Laporan keuangan itu",
    "Formulir pendaftaran itu",
    "Pengumuman itu",
    "Hasil seleksi itu",
    "Arsip lama itu",
)
DI_VERBS = ("simpan", "letakkan", "periksa", "tandatangani", "bacakan", "umumkan", "tempelkan")
DI_PLACES = (
    "ruang arsip",
    "meja resepsionis",
    "kantor camat",
    "aula utama",
    "lemari besi",
    "papan pengumuman",
    "ruang kepala dinas",
    "balai desa",
)


def _baku_pick(rng: random.Random) -> ChoiceDraft:
    pairs = rng.sample(BAKU, 5)
    if rng.random() < 0.5:
        stem = rng.choice(
            (
                "Penulisan kata baku yang sesuai dengan KBBI adalah ....",
                "Di antara kata berikut, yang merupakan kata baku adalah ....",
            )
        )
        return ChoiceDraft(stem, pairs[0][0], tuple(p[1] for p in pairs[1:]))
    stem = rng.choice(
        (
            "Kata yang penulisannya TIDAK baku adalah ....",
            "Di antara kata berikut, yang tidak sesuai dengan KBBI adalah ....",
        )
    )
    return ChoiceDraft(stem, pairs[0][1], tuple(p[0] for p in pairs[1:]))


_SWAPS = (
    ("a", "e"),
    ("e", "i"),
    ("i", "e"),
    ("u", "o"),
    ("o", "u"),
    ("f", "p"),
    ("k", "kh"),
    ("z", "j"),
    ("s", "z"),
    ("t", "th"),
    ("n", "ng"),
    ("r", "rr"),
    ("l", "ll"),
)


def _misspellings(word: str) -> list[str]:
    """Plausible wrong spellings of ``word``: one letter swapped or doubled at a time."""
    out: list[str] = []
    for old, new in _SWAPS:
        start = 0
        while (i := word.find(old, start)) >= 0:
            out.append(word[:i] + new + word[i + len(old) :])
            start = i + 1
    return sorted(set(out) - {word})


def _baku_fix(rng: random.Random) -> ChoiceDraft:
    baku, tidak = rng.choice(BAKU)
    wrongs = [w for w in _misspellings(baku) if w != tidak]
    stem = rng.choice(
        (
            f'Bentuk baku dari kata "{tidak}" adalah ....',
            f'Kata "{tidak}" dalam sebuah surat dinas seharusnya ditulis ....',
            f'Penulisan yang benar untuk kata "{tidak}" menurut KBBI adalah ....',
        )
    )
    return ChoiceDraft(stem, baku, (tidak, *rng.sample(wrongs, 3)), fact=f"baku-{baku}")


def _kata_depan_di(rng: random.Random) -> ChoiceDraft:
    obj, verb, place = rng.choice(DI_OBJECTS), rng.choice(DI_VERBS), rng.choice(DI_PLACES)
    stem = rng.choice(
        (
            'Penulisan "di" yang tepat menurut kaidah ejaan terdapat pada kalimat ....',
            "Kalimat yang penulisan awalan dan kata depannya benar adalah ....",
        )
    )
    key = f"{obj} di{verb} di {place}."
    wrong = (
        f"{obj} di {verb} di {place}.",
        f"{obj} di{verb} di{place}.",
        f"{obj} di {verb} di{place}.",
        f"{obj} di-{verb} di {place}.",
    )
    return ChoiceDraft(stem, key, wrong)


GENERATORS: dict[str, tuple[tuple[ChoiceGenerator, float], ...]] = {
    "pilar_negara": (
        (_sila_text, 1.0),
        (_sila_number, 1.0),
        (_lambang, 1.0),
        (_pengamalan, 3.0),
        (_pasal_content, 3.0),
        (_pasal_number, 3.0),
        (_pilar_fact, 1.5),
    ),
    "nasionalisme": ((_history, 3.0), (_nasionalis_sikap, 3.0), (_chauvinism, 1.0)),
    "integritas": ((_integrity_case, 5.0), (_integrity_concept, 1.0)),
    "bela_negara": ((_bela_act, 3.0), (_threat, 3.0), (_bela_fact, 1.0)),
    "bahasa_indonesia": ((_baku_pick, 3.0), (_baku_fix, 2.0), (_kata_depan_di, 1.5)),
}
