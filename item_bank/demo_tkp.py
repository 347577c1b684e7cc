# ruff: noqa: E501  (the item texts are prose; breaking them would hurt reading them)
"""Demo TKP (Tes Karakteristik Pribadi) item drafts: situations and ranked responses.

Each scenario has a few stem phrasings with slots (names, agencies,
services, places) and five responses from the most to the least fitting
(5 to 1 points), as in the SKD: every option scores, none scores zero.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from item_bank.demo_drafts import AGENCIES, NAMES, REGIONS, RankedDraft, RankedGenerator

SERVICES = (
    "pembuatan KTP elektronik",
    "perizinan usaha mikro",
    "pembayaran pajak kendaraan",
    "pendaftaran BPJS Kesehatan",
    "penerbitan akta kelahiran",
    "pengurusan sertifikat tanah",
    "pembuatan paspor",
    "pengaduan layanan air bersih",
    "pendaftaran sekolah",
    "penyaluran bantuan sosial",
)
APPS = (
    "aplikasi tata naskah dinas elektronik",
    "sistem informasi kepegawaian",
    "aplikasi pelaporan kinerja harian",
    "sistem antrean daring",
    "aplikasi perencanaan anggaran",
    "sistem arsip digital",
)
TASKS = (
    "laporan realisasi anggaran",
    "rekapitulasi data penduduk",
    "dokumen rencana strategis",
    "laporan evaluasi program",
    "bahan paparan pimpinan",
    "naskah kerja sama antarinstansi",
)


@dataclass(frozen=True)
class Scenario:
    stems: tuple[str, ...]
    responses: tuple[str, str, str, str, str]  # best → worst


SCENARIOS: dict[str, tuple[Scenario, ...]] = {
    "pelayanan_publik": (
        Scenario(
            (
                "Anda bertugas di loket {service} di {agency}. Menjelang jam layanan berakhir, "
                "masih ada {n} warga yang mengantre, padahal Anda memiliki janji pribadi. "
                "Sikap Anda adalah ....",
                "Jam layanan {service} hampir usai, tetapi {n} warga masih menunggu giliran. "
                "Sebagai petugas di {agency}, Anda ....",
            ),
            (
                "Tetap melayani semua warga yang sudah mengantre sampai selesai, lalu mengatur ulang janji pribadi",
                "Melayani warga yang tersisa sambil meminta rekan membantu agar lebih cepat selesai",
                "Melayani sebagian warga dan memberi nomor antrean prioritas untuk esok hari kepada sisanya",
                "Meminta warga yang tersisa datang kembali esok hari",
                "Menutup loket tepat waktu karena jam layanan sudah habis",
            ),
        ),
        Scenario(
            (
                "Seorang warga marah-marah di depan loket {service} karena merasa prosesnya "
                "terlalu lama. Sebagai petugas di {agency}, Anda ....",
                "{name} datang ke {agency} dan mengeluh dengan suara keras bahwa layanan "
                "{service} berbelit-belit. Tanggapan Anda ....",
            ),
            (
                "Mendengarkan keluhannya dengan tenang, menjelaskan tahapan prosesnya, dan membantu menyelesaikannya",
                "Meminta maaf atas ketidaknyamanan dan menjelaskan prosedur yang berlaku",
                "Menyarankan warga tersebut menulis keluhannya di kotak saran",
                "Meminta warga tersebut menunggu sampai suasana hatinya tenang",
                "Meminta petugas keamanan membawa warga tersebut keluar",
            ),
        ),
        Scenario(
            (
                "Seorang warga lanjut usia kesulitan mengisi formulir {service} di {agency}. "
                "Antrean di loket Anda sedang panjang. Anda ....",
                "Di tengah antrean panjang layanan {service}, seorang penyandang disabilitas "
                "membutuhkan bantuan mengisi formulir. Anda ....",
            ),
            (
                "Meminta rekan yang tidak sedang melayani untuk mendampinginya, sambil tetap melayani antrean",
                "Membantunya sebentar, lalu melanjutkan melayani antrean",
                "Memberikan contoh formulir yang sudah terisi agar ia mengikutinya",
                "Memintanya meminta bantuan keluarga yang mengantar",
                "Memintanya menunggu sampai antrean selesai",
            ),
        ),
        Scenario(
            (
                "Seorang pemohon {service} menyelipkan amplop berisi uang agar berkasnya "
                "didahulukan. Sebagai petugas di {agency}, Anda ....",
                "{name}, pemohon {service}, menawarkan imbalan agar berkasnya selesai hari itu "
                "juga. Anda ....",
            ),
            (
                "Menolak dengan sopan, menjelaskan bahwa layanan tidak dipungut imbalan, dan memproses berkas sesuai antrean",
                "Menolak pemberian tersebut dan meminta pemohon mengikuti antrean",
                "Menolak, tetapi menjanjikan berkasnya akan diperhatikan",
                "Mengembalikan amplop tanpa penjelasan apa pun",
                "Menerima amplop karena pemohon memberikannya dengan ikhlas",
            ),
        ),
        Scenario(
            (
                "Sistem layanan daring {service} di {agency} mendadak tidak dapat diakses "
                "saat banyak warga menunggu. Anda ....",
                "Aplikasi layanan {service} mengalami gangguan pada jam sibuk. Sebagai petugas, "
                "Anda ....",
            ),
            (
                "Menginformasikan gangguan kepada warga, melapor ke tim teknis, dan mencatat berkas secara manual agar tetap terlayani",
                "Melapor ke tim teknis dan meminta warga menunggu dengan perkiraan waktu yang jelas",
                "Meminta warga menunggu sampai sistem kembali normal",
                "Menyarankan warga datang lagi keesokan harinya",
                "Menutup layanan hari itu tanpa memberi penjelasan",
            ),
        ),
        Scenario(
            (
                "Seorang warga datang mengurus {service} tetapi dokumennya belum lengkap, "
                "padahal ia datang dari tempat yang jauh. Anda ....",
                "{name} datang jauh-jauh ke {agency} untuk mengurus {service}, namun satu "
                "dokumennya tertinggal. Anda ....",
            ),
            (
                "Menerima berkas yang ada, menjelaskan kekurangannya, dan menawarkan pengiriman dokumen susulan secara daring bila aturan memungkinkan",
                "Menjelaskan dokumen yang kurang secara rinci agar ia tidak bolak-balik lagi",
                "Memberikan daftar persyaratan tertulis untuk kunjungan berikutnya",
                "Memintanya kembali setelah dokumen lengkap",
                "Menolak berkasnya karena persyaratan sudah diumumkan",
            ),
        ),
    ),
    "jejaring_kerja": (
        Scenario(
            (
                "Unit Anda di {agency} harus menyusun {task} bersama instansi lain yang "
                "belum pernah bekerja sama dengan Anda. Anda ....",
                "Anda ditunjuk menjadi penghubung dengan instansi mitra untuk menyusun {task}. "
                "Langkah Anda ....",
            ),
            (
                "Mengajak pertemuan awal untuk menyepakati tujuan, pembagian tugas, dan jalur komunikasi",
                "Menghubungi pejabat terkait di instansi mitra untuk memperkenalkan diri",
                "Menunggu instansi mitra menghubungi lebih dahulu",
                "Mengerjakan bagian unit sendiri tanpa berkoordinasi",
                "Meminta atasan menunjuk orang lain sebagai penghubung",
            ),
        ),
        Scenario(
            (
                "{name}, rekan baru dari daerah lain, tampak kesulitan menyesuaikan diri "
                "dengan tim Anda. Anda ....",
                "Seorang pegawai pindahan bernama {name} belum akrab dengan anggota tim. "
                "Sikap Anda ....",
            ),
            (
                "Mengajaknya berdiskusi, memperkenalkannya kepada rekan lain, dan melibatkannya dalam pekerjaan tim",
                "Menawarkan bantuan bila ia membutuhkan",
                "Memperkenalkan diri dan menyapanya setiap hari",
                "Membiarkannya beradaptasi sendiri",
                "Menjaga jarak karena belum mengenalnya",
            ),
        ),
        Scenario(
            (
                "Anda diundang mengikuti forum antarinstansi di {region} yang membahas "
                "inovasi layanan. Anda ....",
                "Kantor Anda mendapat undangan forum berbagi praktik baik dengan pemerintah "
                "daerah lain. Anda ....",
            ),
            (
                "Hadir aktif, berbagi pengalaman unit, dan menjalin kontak untuk tindak lanjut kerja sama",
                "Hadir dan mencatat hal-hal yang dapat diterapkan di kantor",
                "Hadir bila tidak ada pekerjaan lain",
                "Meminta rekan lain hadir karena Anda kurang tertarik",
                "Menolak karena forum seperti itu tidak bermanfaat",
            ),
        ),
        Scenario(
            (
                "Dua anggota tim Anda berselisih tentang pembagian tugas dalam penyusunan "
                "{task}. Anda ....",
                "Dalam penyusunan {task}, terjadi perbedaan pendapat yang tajam antara "
                "{name} dan rekan lainnya. Anda ....",
            ),
            (
                "Mempertemukan keduanya, mendengarkan alasan masing-masing, dan mencari kesepakatan bersama",
                "Mengusulkan pembagian tugas baru yang adil kepada keduanya",
                "Meminta atasan yang memutuskan",
                "Membiarkan mereka menyelesaikan sendiri",
                "Memihak rekan yang lebih dekat dengan Anda",
            ),
        ),
        Scenario(
            (
                "Instansi lain meminta data dari unit Anda untuk mendukung program "
                "bersama. Data tersebut boleh dibagikan. Anda ....",
                "{name} dari instansi mitra meminta bahan yang pernah disusun unit Anda untuk "
                "keperluan program bersama. Anda ....",
            ),
            (
                "Segera menyiapkan data sesuai prosedur berbagi data dan menawarkan bantuan bila ada kesulitan",
                "Mengirim data setelah mendapat persetujuan atasan",
                "Mengirim data seadanya tanpa penjelasan",
                "Menunda karena sedang banyak pekerjaan",
                "Menolak karena data itu milik unit Anda",
            ),
        ),
    ),
    "sosial_budaya": (
        Scenario(
            (
                "Anda ditempatkan di {region} yang adat dan kebiasaannya berbeda dengan daerah "
                "asal Anda. Anda ....",
                "Setelah lulus seleksi, Anda bertugas di {region}, jauh dari kampung halaman "
                "dengan budaya yang berbeda. Sikap Anda ....",
            ),
            (
                "Mempelajari adat setempat dan aktif mengikuti kegiatan masyarakat",
                "Menghormati adat setempat dan menyesuaikan diri secara bertahap",
                "Bergaul terutama dengan sesama pendatang dari daerah asal",
                "Menjalani tugas tanpa terlibat dalam kegiatan masyarakat",
                "Segera mengajukan pindah karena merasa tidak cocok",
            ),
        ),
        Scenario(
            (
                "Rekan kerja Anda, {name}, sedang merayakan hari besar agamanya yang berbeda "
                "dengan agama Anda. Anda ....",
                "{name}, rekan satu tim yang berbeda keyakinan, mengundang Anda ke acara "
                "syukuran keagamaan di rumahnya. Anda ....",
            ),
            (
                "Memberikan ucapan selamat atau hadir sesuai keyakinan Anda sebagai bentuk penghormatan",
                "Menyampaikan ucapan melalui pesan singkat",
                "Bersikap biasa saja seperti hari lainnya",
                "Menghindari pembicaraan tentang hari besar tersebut",
                "Menyindir perayaan tersebut di depan rekan lain",
            ),
        ),
        Scenario(
            (
                "Warga di lingkungan tempat tinggal Anda di {region} mengadakan kerja bakti "
                "pada hari libur Anda. Anda ....",
                "Pengurus lingkungan mengajak warga bergotong royong membersihkan saluran air "
                "pada akhir pekan. Anda ....",
            ),
            (
                "Ikut serta sejak awal dan mengajak tetangga lain untuk bergabung",
                "Ikut serta sesuai waktu yang Anda miliki",
                "Menyumbang makanan atau minuman tanpa ikut bekerja",
                "Tidak ikut karena sudah membayar iuran kebersihan",
                "Tidak ikut karena hari libur untuk beristirahat",
            ),
        ),
        Scenario(
            (
                "Dalam rapat di {agency}, beberapa peserta berbicara dengan logat daerah yang "
                "membuat peserta lain tertawa. Anda ....",
                "Seorang rekan menjadikan logat daerah {name} sebagai bahan candaan di kantor. "
                "Anda ....",
            ),
            (
                "Mengingatkan dengan santun bahwa perbedaan logat harus dihormati",
                "Tidak ikut tertawa dan mengalihkan pembicaraan",
                "Diam saja agar suasana tidak canggung",
                "Ikut tersenyum supaya tidak dianggap berbeda",
                "Ikut menirukan logat tersebut",
            ),
        ),
        Scenario(
            (
                "Tim kerja Anda terdiri atas pegawai dari berbagai suku dan agama. Dalam "
                "pembagian tugas, Anda ....",
                "Anda memimpin tim yang anggotanya berasal dari latar belakang budaya yang "
                "beragam. Anda ....",
            ),
            (
                "Membagi tugas berdasarkan kemampuan tanpa memandang latar belakang",
                "Membagi tugas secara merata kepada semua anggota",
                "Menanyakan anggota mana yang bersedia mengerjakan setiap tugas",
                "Memberikan tugas penting kepada anggota yang sesuku dengan Anda",
                "Memisahkan anggota ke dalam kelompok berdasarkan asal daerah",
            ),
        ),
    ),
    "tik": (
        Scenario(
            (
                "Kantor Anda mulai menggunakan {app}. Banyak rekan yang belum terbiasa. Anda ....",
                "{agency} menerapkan {app} mulai bulan depan. Sikap Anda ....",
            ),
            (
                "Mempelajarinya segera dan membantu rekan yang masih kesulitan",
                "Mengikuti pelatihan yang disediakan dan menggunakannya dalam pekerjaan",
                "Menggunakannya bila diwajibkan atasan",
                "Meminta rekan yang mahir mengerjakan bagian Anda",
                "Tetap bekerja secara manual karena lebih terbiasa",
            ),
        ),
        Scenario(
            (
                "Anda menerima surel yang mengatasnamakan bagian TI dan meminta kata sandi "
                "akun {app} Anda. Anda ....",
                "Sebuah pesan berisi tautan meminta Anda memasukkan kata sandi {app} agar akun "
                "tidak diblokir. Anda ....",
            ),
            (
                "Tidak membuka tautan, melaporkan pesan itu ke tim keamanan informasi, dan memperingatkan rekan",
                "Menghapus pesan tersebut dan tidak menanggapinya",
                "Menanyakan keaslian pesan kepada rekan kerja",
                "Membalas pesan untuk menanyakan maksudnya",
                "Memberikan kata sandi agar akun tidak diblokir",
            ),
        ),
        Scenario(
            (
                "Di grup percakapan warga beredar kabar tentang {service} yang belum jelas "
                "kebenarannya. Anda ....",
                "{name} meneruskan berita tentang kebijakan {agency} yang belum tentu benar ke "
                "grup keluarga. Anda ....",
            ),
            (
                "Memeriksa kebenarannya melalui kanal resmi lalu menyampaikan informasi yang benar di grup",
                "Mengingatkan anggota grup agar tidak meneruskan kabar yang belum jelas",
                "Tidak menanggapi kabar tersebut",
                "Menunggu orang lain yang meluruskan",
                "Ikut meneruskan kabar itu agar orang lain waspada",
            ),
        ),
        Scenario(
            (
                "Rekan Anda meminjam akun {app} milik Anda karena akunnya terkunci. Anda ....",
                "{name} meminta kata sandi akun {app} Anda untuk menyelesaikan pekerjaan "
                "mendesak. Anda ....",
            ),
            (
                "Menolak meminjamkan akun dan membantunya menghubungi admin agar akunnya dibuka",
                "Menolak dan menyarankan ia melapor ke admin sistem",
                "Membantu memasukkan datanya melalui akun Anda dengan pengawasan",
                "Meminjamkan akun sekali ini saja",
                "Memberikan kata sandi karena ia rekan dekat",
            ),
        ),
        Scenario(
            (
                "Pimpinan meminta rapat koordinasi dengan kantor di {region} dilakukan melalui "
                "konferensi video. Anda belum pernah menjadi penyelenggara. Anda ....",
                "Anda ditugasi menyiapkan rapat daring dengan peserta dari {region}. Anda ....",
            ),
            (
                "Mempelajari aplikasinya, mencoba lebih dahulu, dan menyiapkan panduan bagi peserta",
                "Meminta bantuan rekan yang berpengalaman sambil ikut belajar",
                "Menyiapkan rapat seadanya sesuai kemampuan",
                "Meminta agar rapat dilakukan tatap muka saja",
                "Menyerahkan tugas itu kepada rekan lain",
            ),
        ),
    ),
    "profesionalisme": (
        Scenario(
            (
                "Anda harus menyelesaikan {task} dalam dua hari, sementara atasan memberi tugas "
                "tambahan yang juga mendesak. Anda ....",
                "Tenggat {task} tinggal sehari, lalu datang tugas mendadak dari pimpinan. "
                "Anda ....",
            ),
            (
                "Menyusun prioritas, membicarakan tenggat dengan atasan, dan menyelesaikan keduanya",
                "Bekerja lembur agar kedua tugas selesai",
                "Mengerjakan tugas tambahan lebih dahulu karena diminta atasan",
                "Meminta rekan mengerjakan salah satu tugas",
                "Menyelesaikan salah satu tugas saja",
            ),
        ),
        Scenario(
            (
                "Anda menemukan kesalahan data dalam {task} yang sudah Anda serahkan kepada "
                "atasan. Anda ....",
                "Setelah {task} dikirim, Anda menyadari ada angka yang keliru. Anda ....",
            ),
            (
                "Segera melapor kepada atasan dan menyerahkan perbaikannya",
                "Memperbaiki kesalahan dan mengirim ulang dokumen tersebut",
                "Memperbaikinya bila atasan menanyakan",
                "Menunggu apakah ada yang menyadari kesalahan itu",
                "Membiarkannya karena kesalahannya kecil",
            ),
        ),
        Scenario(
            (
                "Anda mendapat kesempatan pelatihan yang sesuai dengan bidang kerja, tetapi "
                "waktunya bersamaan dengan penyusunan {task}. Anda ....",
                "{agency} membuka pendaftaran pelatihan peningkatan kompetensi di bidang Anda. "
                "Anda ....",
            ),
            (
                "Mengikuti pelatihan setelah memastikan pekerjaan diatur bersama atasan dan rekan",
                "Mendaftar dan menyelesaikan pekerjaan lebih awal",
                "Mengikuti pelatihan bila ditunjuk atasan",
                "Melewatkannya karena pekerjaan masih banyak",
                "Tidak tertarik karena pelatihan tidak memengaruhi karier",
            ),
        ),
        Scenario(
            (
                "Atasan Anda di {agency} menugasi Anda pekerjaan di luar keahlian Anda. Anda ....",
                "Anda diminta menangani {task}, padahal belum pernah mengerjakannya. Anda ....",
            ),
            (
                "Menerima tugas dan mempelajarinya dengan sungguh-sungguh, termasuk bertanya kepada yang ahli",
                "Menerima tugas sambil meminta bimbingan atasan",
                "Menerima tugas dan mengerjakannya sebisanya",
                "Meminta tugas itu dialihkan kepada rekan yang lebih ahli",
                "Menolak karena bukan bidang Anda",
            ),
        ),
        Scenario(
            (
                "Hasil penilaian kinerja Anda di {agency} tahun ini lebih rendah dari harapan. "
                "Anda ....",
                "Atasan memberi masukan bahwa kualitas {task} Anda perlu ditingkatkan. Anda ....",
            ),
            (
                "Meminta penjelasan rinci, menyusun rencana perbaikan, dan melaksanakannya",
                "Menerima masukan dan berusaha bekerja lebih baik",
                "Menerima hasil tersebut tanpa tindak lanjut",
                "Membandingkan diri dengan rekan yang nilainya lebih tinggi",
                "Menganggap penilaian itu tidak objektif",
            ),
        ),
        Scenario(
            (
                "Pekerjaan Anda hari ini di {agency} sudah selesai satu jam sebelum jam kerja "
                "berakhir. Anda ....",
                "{name} melihat Anda sudah menyelesaikan {task} lebih cepat dari jadwal. "
                "Sisa waktu kerja Anda gunakan untuk ....",
            ),
            (
                "Menawarkan bantuan kepada rekan atau atasan, atau mempelajari hal baru yang menunjang tugas",
                "Memeriksa ulang hasil pekerjaan agar tidak ada kesalahan",
                "Merapikan meja dan berkas kerja",
                "Berbincang santai dengan rekan sambil menunggu jam pulang",
                "Pulang lebih awal karena pekerjaan sudah selesai",
            ),
        ),
        Scenario(
            (
                "{name} meminta Anda mengisi daftar hadir elektronik atas namanya karena ia "
                "akan datang terlambat. Anda ....",
                "Seorang rekan di {agency} meminta Anda melakukan presensi untuknya karena ia "
                "masih di jalan. Anda ....",
            ),
            (
                "Menolak dengan sopan dan menyarankan ia melapor kepada atasan tentang keterlambatannya",
                "Menolak karena presensi harus dilakukan sendiri",
                "Menyarankan ia meminta tolong kepada rekan lain",
                "Mengisikan presensinya sekali ini saja",
                "Mengisikan presensinya karena ia rekan dekat",
            ),
        ),
    ),
    "anti_radikalisme": (
        Scenario(
            (
                "{name}, teman lama Anda, sering membagikan konten yang menganggap Pancasila "
                "bertentangan dengan keyakinannya. Anda ....",
                "Di media sosial, seorang kenalan mengajak menolak Pancasila sebagai dasar "
                "negara. Anda ....",
            ),
            (
                "Mengajaknya berdiskusi dengan tenang, memberi pemahaman, dan melaporkan konten yang melanggar hukum",
                "Menjelaskan bahwa Pancasila adalah kesepakatan bangsa yang menjamin kebebasan beragama",
                "Tidak menanggapi dan membatasi interaksi dengannya",
                "Membiarkannya karena itu hak pribadinya",
                "Ikut membagikan konten tersebut",
            ),
        ),
        Scenario(
            (
                "Anda diajak mengikuti kelompok kajian tertutup yang menganggap pemerintah "
                "tidak sah dan menolak hormat bendera. Anda ....",
                "{name} mengajak Anda bergabung dengan kelompok yang anggotanya dilarang "
                "mengikuti upacara bendera. Anda ....",
            ),
            (
                "Menolak, menjelaskan bahayanya, dan melaporkannya kepada pihak berwenang",
                "Menolak dengan tegas ajakan tersebut",
                "Mencari tahu lebih jauh sebelum memutuskan",
                "Ikut sekali untuk melihat kegiatannya",
                "Bergabung karena penasaran",
            ),
        ),
        Scenario(
            (
                "Di grup percakapan kantor, seorang rekan menyebarkan ujaran kebencian terhadap "
                "kelompok agama tertentu. Anda ....",
                "{name} menulis komentar yang merendahkan suku tertentu di grup kantor. Anda ....",
            ),
            (
                "Mengingatkannya secara pribadi dan melaporkan kepada admin atau atasan bila berlanjut",
                "Menanggapi di grup bahwa ujaran seperti itu tidak pantas",
                "Keluar dari grup tersebut",
                "Diam saja agar tidak terjadi keributan",
                "Menyetujui pendapat rekan tersebut",
            ),
        ),
        Scenario(
            (
                "Tetangga Anda di {region} melarang warga lain beribadah di rumah sendiri "
                "karena berbeda keyakinan. Anda ....",
                "Sekelompok warga menolak kegiatan ibadah umat lain yang sudah berizin di "
                "lingkungan Anda. Anda ....",
            ),
            (
                "Mengajak tokoh masyarakat bermusyawarah agar hak beribadah setiap warga dihormati",
                "Menyampaikan kepada tetangga bahwa setiap warga dijamin haknya untuk beribadah",
                "Melaporkan kejadian itu kepada pengurus lingkungan",
                "Tidak ikut campur karena bukan urusan Anda",
                "Mendukung larangan tersebut agar lingkungan seragam",
            ),
        ),
        Scenario(
            (
                "Seorang rekan berpendapat bahwa kekerasan boleh dipakai untuk memperjuangkan "
                "keyakinan. Anda ....",
                "Dalam diskusi, {name} membenarkan aksi teror sebagai bentuk perjuangan. Anda ....",
            ),
            (
                "Menjelaskan bahwa kekerasan bertentangan dengan nilai agama dan hukum, serta mengajaknya berdialog",
                "Menyampaikan ketidaksetujuan dengan tegas",
                "Mengalihkan pembicaraan ke topik lain",
                "Mendengarkan tanpa memberi tanggapan",
                "Menganggap pendapat itu wajar",
            ),
        ),
    ),
}


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        name=rng.choice(NAMES),
        agency=rng.choice(AGENCIES),
        service=rng.choice(SERVICES),
        region=rng.choice(REGIONS),
        app=rng.choice(APPS),
        task=rng.choice(TASKS),
        n=rng.randint(3, 15),
    )


def _generator(area: str) -> RankedGenerator:
    scenarios = SCENARIOS[area]

    def draw(rng: random.Random) -> RankedDraft:
        scenario = rng.choice(scenarios)
        stem = _fill(rng, rng.choice(scenario.stems))
        return RankedDraft(stem, scenario.responses)

    return draw


GENERATORS: dict[str, RankedGenerator] = {area: _generator(area) for area in SCENARIOS}
