"""BPKAD's Standar Satuan Harga (SSH): the regency's standard unit prices, about 1,500 items.

Items come from base goods with their specifications (`"A4 80 gsm*1.15"`: the spec and its
price factor), crossed with a quality grade (office and IT goods) or a price zone (building
materials and meals cost more on the outer islands). Travel rates are per province, route
or kecamatan. Prices are rupiah with a little noise, rounded the way SSH tables round them.
Codes (`1.1.12.<kelompok>.<sub>.<serial>`) and account codes (kode rekening) follow the
Permendagri 90/2019 layout but are illustrative.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hub.demo.regions import KECAMATAN, OUTER, ZONES
from hub.demo.tables import Row, Table


@dataclass(frozen=True, kw_only=True)
class Ssh:
    kode: str
    uraian: str
    spesifikasi: str
    satuan: str
    harga: int
    kelompok: str
    rekening: tuple[str, str]  # kode rekening, its name


GRADES = (("kualitas standar", 1.0), ("kualitas menengah", 1.3), ("kualitas tinggi", 1.75))
TIERS = (("kelas standar", 1.0), ("kelas tinggi", 1.4))
BUILDING_ZONES = tuple(zip((f"zona {z}" for z in ZONES), (1.0, 1.08, 1.2), strict=True))
MEAL_ZONES = tuple(zip((f"zona {z}" for z in ZONES), (1.0, 1.05, 1.12), strict=True))
TRAVEL = "Perjalanan Dinas"
PERJADIN = "5.1.02.04.01.0001", "Belanja Perjalanan Dinas Biasa"
DALAM_KOTA = "5.1.02.04.01.0003", "Belanja Perjalanan Dinas Dalam Kota"

# Goods per kelompok: "@ kode rekening  name" opens a sub-group; then one line per good:
# "uraian | satuan | base price | spec; spec*factor; ...". A good may continue on a second line.
GOODS: dict[str, tuple[tuple[tuple[str, float], ...], str]] = {
    "Alat Tulis Kantor": (
        GRADES,
        """
@ 5.1.02.01.01.0025 Belanja Alat/Bahan untuk Kegiatan Kantor-Kertas dan Cover
Kertas HVS | rim | 52000 | A4 70 gsm; A4 80 gsm*1.15; F4 70 gsm*1.1; F4 80 gsm*1.25; A3 80 gsm*2.2
Kertas Foto | pak | 45000 | A4 180 gsm; A4 230 gsm*1.3; 4R 230 gsm*0.8
Kertas Buffalo | pak | 38000 | A4 isi 100 lembar; F4 isi 100 lembar*1.1
Kertas Label | pak | 9000 | No. 103; No. 107; No. 121
Kertas NCR | rim | 185000 | A4 2 ply; A4 3 ply*1.35
Amplop | kotak | 28000 | Putih No. 90; Putih No. 104*1.3; Coklat Kabinet*2.5; Coklat Folio*3.2
Map | buah | 3000 | Kertas; Plastik Kancing*1.6; Snelhecter Plastik*1.3; Snelhecter Kertas
Map | buah | 3000 | Gantung*4.5; Ordner*9
Buku | buah | 4500 | Tulis 38 lembar; Tulis 58 lembar*1.3; Folio 100 lembar*6; Folio 200 lembar*9
Buku | buah | 4500 | Ekspedisi*3.5; Agenda Surat*12
Sticky Notes | pak | 9500 | 3 x 3 inci; 3 x 2 inci*0.8; Index Plastik*1.3
@ 5.1.02.01.01.0024 Belanja Alat/Bahan untuk Kegiatan Kantor-Alat Tulis Kantor
Pulpen | kotak | 30000 | Standar isi 12; Gel isi 12*2; Boxy isi 12*1.5; Tanda Tangan isi 12*4
Pensil | kotak | 28000 | 2B isi 12; HB isi 12; Mekanik 0,5 mm isi 12*3
Spidol | kotak | 70000 | Whiteboard Hitam isi 12; Whiteboard Biru isi 12; Permanen Hitam isi 12*1.1
Spidol | kotak | 70000 | Permanen Warna isi 12*1.15; Stabilo isi 12*0.9
Penghapus | buah | 3000 | Pensil; Papan Tulis*4
Koreksi | buah | 6500 | Cair; Roller*2.2
Penggaris | buah | 5000 | Plastik 30 cm; Besi 30 cm*2; Besi 60 cm*3.5
Gunting dan Cutter | buah | 12000 | Gunting Kertas; Cutter Besar*1.1; Isi Cutter Besar*0.7
Lem | buah | 5000 | Stik 8 gram; Stik 25 gram*1.6; Cair 50 ml*0.9
Selotip | gulung | 6000 | Bening 1/2 inci; Bening 2 inci*2; Kertas 1 inci*1.2; Hitam Jilid 2 inci*1.8
Selotip | gulung | 6000 | Double Tape 1 inci*2; Lakban Coklat 2 inci*2.2
Stapler | buah | 25000 | Kecil No. 10; Besar No. 3*2.2; Heavy Duty*8
Isi Stapler | kotak | 3000 | No. 10; No. 3*1.3; No. 23/13*3.5
Klip | kotak | 4000 | Paper Clip No. 3; Binder Clip No. 105; Binder Clip No. 107*1.2; Binder Clip No. 111*1.8
Klip | kotak | 4000 | Binder Clip No. 155*2.6; Binder Clip No. 200*3.2; Binder Clip No. 260*4.5
Perforator | buah | 35000 | Kecil; Besar*3.5
Perlengkapan Stempel | buah | 18000 | Bantalan Stempel; Tinta Stempel*0.6; Stempel Flash*6
Baterai | pak | 14000 | AA Alkaline isi 2; AAA Alkaline isi 2; 9 Volt*1.8
Papan Tulis | buah | 250000 | Whiteboard 90 x 120 cm; Whiteboard 120 x 240 cm*2.2; Papan Gabus 90 x 120 cm*0.9
Kalkulator | buah | 110000 | 12 Digit; Ilmiah*1.7
Box File | buah | 32000 | Plastik; Karton*0.6
Bendera | buah | 85000 | Merah Putih 90 x 135 cm; Merah Putih 120 x 180 cm*1.5; Korpri*1.2; Pemkab Karimun*1.3
@ 5.1.02.01.01.0029 Belanja Alat/Bahan untuk Kegiatan Kantor-Bahan Komputer
Tinta Printer | botol | 95000 | Epson 003 Hitam; Epson 003 Warna; Epson 664 Hitam*0.9; Canon GI-790 Hitam
Tinta Printer | botol | 95000 | Canon GI-790 Warna; Brother BT-D60 Hitam*1.05; HP GT53 Hitam*1.1
Cartridge | buah | 230000 | HP 680 Hitam; HP 680 Warna*1.1; Canon PG-745*1.2; Canon CL-746*1.3
Cartridge | buah | 230000 | Epson 702 Hitam*1.15
Toner | buah | 850000 | HP 85A; HP 12A*0.95; HP 79A*0.9; HP 107A*0.8; Brother TN-2260*0.9; Canon 325
Toner | buah | 850000 | Kyocera TK-1114*1.05
Pita Printer | buah | 45000 | Epson LX-310; Epson LQ-2190*2.2
Flashdisk | buah | 65000 | 16 GB; 32 GB*1.3; 64 GB*1.9; 128 GB*3.2
""",
    ),
    "Peralatan Teknologi Informasi": (
        TIERS,
        """
@ 5.2.02.10.01.0002 Belanja Modal Personal Computer
Laptop | unit | 9500000 | Core i3/8 GB/256 GB SSD/14 inci*0.85; Core i5/8 GB/512 GB SSD/14 inci
Laptop | unit | 9500000 | Core i5/16 GB/512 GB SSD/14 inci*1.15; Core i7/16 GB/1 TB SSD/14 inci*1.6
Laptop | unit | 9500000 | Ryzen 5/8 GB/512 GB SSD/14 inci*0.95; Ryzen 7/16 GB/512 GB SSD/14 inci*1.35
Laptop | unit | 9500000 | Core i7/32 GB/1 TB SSD/RTX 4060/16 inci*2.4
PC Desktop | unit | 11000000 | Core i3/8 GB/256 GB SSD/Monitor 21,5 inci*0.8
PC Desktop | unit | 11000000 | Core i5/8 GB/512 GB SSD/Monitor 21,5 inci
PC Desktop | unit | 11000000 | Core i5/16 GB/512 GB SSD/Monitor 23,8 inci*1.15
PC Desktop | unit | 11000000 | Core i7/16 GB/1 TB SSD/Monitor 23,8 inci*1.5
PC Desktop | unit | 11000000 | Core i7/32 GB/1 TB SSD/Monitor 27 inci*2
PC All-in-One | unit | 12500000 | Core i3/8 GB/23,8 inci*0.8; Core i5/8 GB/23,8 inci
PC All-in-One | unit | 12500000 | Core i7/16 GB/27 inci*1.5
Tablet | unit | 4200000 | 10 inci/64 GB; 10 inci/128 GB*1.3; 11 inci/256 GB*2.2
Monitor | unit | 1600000 | 19,5 inci; 21,5 inci*1.2; 23,8 inci*1.45; 27 inci*2.2; 32 inci 4K*4
Server | unit | 85000000 | Rak 1U Xeon/32 GB/2 x 1 TB; Rak 2U Xeon/64 GB/4 x 2 TB*1.6
Server | unit | 85000000 | Rak 2U Xeon/128 GB/8 x 4 TB*2.6
@ 5.2.02.10.02.0003 Belanja Modal Peralatan Personal Computer
Printer | unit | 2600000 | Inkjet Tangki Tinta A4; Inkjet Tangki Tinta A3*2.4; Laser Mono A4*1.1
Printer | unit | 2600000 | Laser Warna A4*2.7; Multifungsi Tangki Tinta A4*1.35; Multifungsi Laser A4*2.3
Printer | unit | 2600000 | Dot Matrix 9 Pin*1.6; Dot Matrix 24 Pin A3*5.5; Label dan Barcode*1.3
Scanner | unit | 3200000 | Flatbed A4; Dokumen ADF A4 30 ppm*2.6; Dokumen ADF A4 60 ppm*5; Flatbed A3*6
Proyektor | unit | 6500000 | 3.300 Lumen XGA; 3.600 Lumen WXGA*1.25; 4.000 Lumen WUXGA*1.9
Proyektor | unit | 6500000 | Short Throw 3.300 Lumen*1.7
Layar Proyektor | unit | 850000 | Tripod 70 inci; Tripod 84 inci*1.3; Motor 100 inci*3.4
UPS | unit | 950000 | 650 VA; 1.200 VA*1.7; 2.000 VA*3.5; 3.000 VA Online*11
Harddisk Eksternal | unit | 900000 | 1 TB; 2 TB*1.35; 4 TB*2.1; 5 TB*2.6
SSD | unit | 550000 | 256 GB SATA; 512 GB SATA*1.5; 512 GB NVMe*1.7; 1 TB NVMe*2.8
Keyboard dan Mouse | set | 185000 | Kabel USB; Nirkabel*1.6
Webcam | unit | 450000 | HD 720p; Full HD 1080p*1.8; Kamera Konferensi 4K*12
Headset | unit | 250000 | USB dengan Mikrofon; Bluetooth*1.8
Speaker Aktif | unit | 450000 | Meja 2.1; Portable Rapat*5
Kamera CCTV | unit | 550000 | Dome Indoor 2 MP; Bullet Outdoor 2 MP*1.2; IP Camera 4 MP*2; NVR 8 Kanal*3.5
Kamera CCTV | unit | 550000 | NVR 16 Kanal*5.5
Kamera Digital | unit | 8500000 | Mirrorless 24 MP Lensa Kit; DSLR 24 MP Lensa Kit*1.1; Action Camera 4K*0.6
@ 5.2.02.10.02.0004 Belanja Modal Peralatan Jaringan
Router | unit | 1800000 | Kantor 5 Port; Kantor Gigabit 10 Port*2.3; Load Balancer*4.5
Switch | unit | 450000 | 8 Port Gigabit; 16 Port Gigabit*2.8; 24 Port Gigabit Managed*7.5
Switch | unit | 450000 | 48 Port Gigabit Managed PoE*28
Access Point | unit | 1300000 | Indoor Dual Band; Outdoor Dual Band*2.4; Indoor Wi-Fi 6*1.9
Kabel UTP | roll | 1650000 | Cat 6 305 m; Cat 5e 305 m*0.7; Outdoor Cat 6 305 m*1.6
Konektor RJ45 | kotak | 95000 | Cat 5e isi 100; Cat 6 isi 100*1.6
Rak Server | unit | 1900000 | Wall Mount 6U; Wall Mount 12U*1.6; Close Rack 42U*6.5
Modem | unit | 650000 | 4G LTE MiFi; 4G LTE Router*1.4
Radio Link | unit | 2500000 | Point to Point 5 GHz; Point to Multipoint 5 GHz*1.7
@ 5.1.02.02.01.0059 Belanja Jasa Layanan Cloud dan Perangkat Lunak
Lisensi Sistem Operasi | lisensi | 3200000 | Windows 11 Pro; Windows Server Standard*8
Lisensi Aplikasi Perkantoran | lisensi/tahun | 1400000 | Microsoft 365 Business Standard
Lisensi Aplikasi Perkantoran | lisensi/tahun | 1400000 | Google Workspace Business Standard
Antivirus | lisensi/tahun | 350000 | Endpoint 1 Perangkat; Server 1 Perangkat*3
Langganan Internet | bulan | 650000 | Broadband 30 Mbps; Broadband 50 Mbps*1.4; Broadband 100 Mbps*2.2
Langganan Internet | bulan | 650000 | Dedicated 20 Mbps*9; Dedicated 50 Mbps*18
""",
    ),
    "Bahan Bangunan dan Konstruksi": (
        BUILDING_ZONES,
        """
@ 5.1.02.01.01.0001 Belanja Bahan-Bahan Bangunan dan Konstruksi
Semen | zak | 68000 | Portland Tipe I 50 kg; Portland Komposit 40 kg*0.8; Semen Putih 40 kg*2
Semen | zak | 68000 | Mortar Instan Perekat 40 kg*1.3; Mortar Instan Acian 40 kg*1.6
Pasir | m3 | 250000 | Urug; Pasang*1.2; Beton*1.45
Batu | m3 | 380000 | Kali; Split 1/2*1.15; Split 2/3*1.1; Split 3/5; Granit Pecah*1.3
Tanah Timbun | m3 | 160000 | Tanah Merah; Laterit*1.15
Beton Siap Pakai | m3 | 1050000 | K-175; K-225*1.06; K-250*1.1; K-300*1.16; K-350*1.24
Bata | buah | 950 | Merah Press; Batako Semen 10 x 20 x 40*5
Bata Ringan | m3 | 850000 | Tebal 7,5 cm; Tebal 10 cm
Paving Block | m2 | 95000 | K-200 Tebal 6 cm; K-300 Tebal 8 cm*1.35
Aspal | drum | 2350000 | Penetrasi 60/70 150 kg; Emulsi 150 kg*0.9
Besi Beton Polos | batang | 42000 | 6 mm 12 m; 8 mm 12 m*1.75; 10 mm 12 m*2.7; 12 mm 12 m*3.9
Besi Beton Ulir | batang | 110000 | 10 mm 12 m; 13 mm 12 m*1.7; 16 mm 12 m*2.55; 19 mm 12 m*3.6
Besi Beton Ulir | batang | 110000 | 22 mm 12 m*4.9; 25 mm 12 m*6.3
Kawat Bendrat | kg | 24000 | Standar
Wiremesh | lembar | 480000 | M6; M8*1.75; M10*2.7
Baja Ringan | batang | 98000 | Kanal C 75 x 0,75 mm 6 m; Kanal C 75 x 1,00 mm 6 m*1.3; Reng 0,45 mm 6 m*0.55
Besi Hollow | batang | 42000 | 20 x 40 mm 6 m; 40 x 40 mm 6 m*1.5; 40 x 60 mm 6 m*1.9
Paku | kg | 22000 | 2 inci; 3 inci; 4 inci; 5 inci; Seng*1.3; Beton*2.2
Kayu Meranti | m3 | 5800000 | Balok 5/7; Balok 6/12*1.05; Papan 2/20*1.1
Kayu Kamper | m3 | 7900000 | Balok 5/7; Balok 6/12; Papan 2/20*1.1
Kayu Bengkirai | m3 | 9800000 | Balok 5/10; Papan 3/20*1.1
Kayu Kelas III | m3 | 3200000 | Balok 5/7; Papan 2/20*1.05
Multiplek | lembar | 135000 | 9 mm; 12 mm*1.35; 18 mm*1.95; Triplek 3 mm*0.5; Triplek 4 mm*0.62
Gypsum | lembar | 72000 | 9 mm 120 x 240 cm; 12 mm Tahan Air*1.6
Seng Gelombang | lembar | 52000 | BJLS 0,20; BJLS 0,30*1.4
Atap Spandek | m | 72000 | 0,30 mm; 0,35 mm*1.15; 0,40 mm*1.3
Genteng Metal | lembar | 38000 | Pasir 0,30 mm; Pasir 0,40 mm*1.3
Keramik Lantai | m2 | 65000 | 30 x 30 cm; 40 x 40 cm*1.05; 50 x 50 cm*1.25; Granit 60 x 60 cm*2.3
Keramik Dinding | m2 | 70000 | 20 x 25 cm; 25 x 40 cm*1.2
Lisplang | batang | 85000 | Fiber Semen 20 cm; Fiber Semen 30 cm*1.35
Cat Tembok | galon | 145000 | Interior 5 kg; Eksterior 5 kg*1.65; Dasar Alkali 5 kg*1.3
Cat Tembok | pail | 640000 | Interior 25 kg; Eksterior 25 kg*1.6
Cat Kayu dan Besi | kaleng | 85000 | Sintetis 1 kg; Dasar Meni 1 kg*0.75
Plamir | kg | 28000 | Tembok; Kayu*1.2
Thinner | liter | 32000 | Standar; Super*1.35
Waterproofing | kg | 62000 | Pelapis Dak; Semen Elastis*1.2
Pipa PVC | batang | 28000 | 1/2 inci AW 4 m; 3/4 inci AW 4 m*1.3; 1 inci AW 4 m*1.75; 1,5 inci AW 4 m*2.8
Pipa PVC | batang | 28000 | 2 inci AW 4 m*3.9; 3 inci D 4 m*4.9; 4 inci D 4 m*7.1; 4 inci AW 4 m*10.6
Kloset | unit | 780000 | Duduk; Jongkok*0.35
Wastafel | unit | 520000 | Keramik dengan Kran
Kran Air | buah | 42000 | 1/2 inci Plastik; 1/2 inci Kuningan*3.3
Tandon Air | unit | 1650000 | 550 liter; 1.050 liter*1.45; 2.200 liter*2.6
Kabel NYM | roll | 420000 | 2 x 1,5 mm 50 m; 2 x 2,5 mm 50 m*1.55; 3 x 2,5 mm 50 m*2.2
Lampu LED | buah | 38000 | 9 Watt; 13 Watt*1.3; 18 Watt*1.8; Penerangan Jalan 60 Watt*25
Lampu LED | buah | 38000 | Penerangan Jalan Tenaga Surya 60 Watt*110
Saklar dan Stop Kontak | buah | 22000 | Saklar Tunggal; Saklar Ganda*1.3; Stop Kontak*1.1
MCB | buah | 65000 | 1 Phase 6 A; 1 Phase 16 A*1.05; 3 Phase 32 A*5
""",
    ),
    "Makanan dan Minuman": (
        MEAL_ZONES,
        """
@ 5.1.02.01.01.0052 Belanja Makanan dan Minuman Rapat
Nasi Kotak | kotak | 35000 | Rapat Biasa; Rapat Pimpinan*1.4; Tamu VIP*1.9
Snack Kotak | kotak | 15000 | Rapat Biasa 2 Macam Kue; Rapat Pimpinan 3 Macam Kue*1.35; Tamu VIP*1.8
Prasmanan | orang | 55000 | Standar; Tamu Pejabat*1.6
Coffee Break | orang | 18000 | Standar; VIP*1.5
@ 5.1.02.01.01.0053 Belanja Makanan dan Minuman Jamuan Tamu
Jamuan Makan Tamu | orang | 120000 | Tamu Daerah; Tamu Kementerian*1.4; Tamu Negara*2.2
Parsel Buah | paket | 350000 | Kecil; Besar*1.9
@ 5.1.02.01.01.0055 Belanja Makanan dan Minuman pada Fasilitas Pelayanan
Makan Minum Peserta Kegiatan | orang/hari | 60000 | Halfday; Fullday*1.5; Fullboard*3.2
Makan Minum Petugas Lapangan | orang/hari | 45000 | Standar
Makan Minum Pasien Rawat Inap | orang/hari | 60000 | Kelas III; Kelas II*1.2; Kelas I*1.4
Makanan Tambahan | paket | 18000 | Balita Gizi Kurang; Ibu Hamil KEK*1.2
Makan Minum Piket Jaga | orang/hari | 40000 | Standar
Air Mineral | dus | 48000 | Botol 600 ml isi 24; Gelas 220 ml isi 48*0.85; Botol 1.500 ml isi 12*1.1
Air Mineral Galon | galon | 22000 | 19 liter Bermerek; 19 liter Isi Ulang*0.3
Kopi Bubuk | kg | 160000 | Robusta; Arabika*1.8
Teh Celup | kotak | 12000 | Isi 25; Premium Isi 25*1.8
Gula Pasir | kg | 18500 | Kemasan 1 kg
""",
    ),
}
KELOMPOK: tuple[str, ...] = (*GOODS, TRAVEL)

# Per province: daily allowance outside the regency (rupiah per person per day).
PROVINCES: tuple[tuple[str, int], ...] = (
    ("Aceh", 360_000), ("Sumatera Utara", 370_000), ("Sumatera Barat", 380_000), ("Riau", 370_000),
    ("Jambi", 370_000), ("Sumatera Selatan", 380_000), ("Bengkulu", 380_000), ("Lampung", 380_000),
    ("Kepulauan Bangka Belitung", 410_000), ("Kepulauan Riau", 370_000), ("DKI Jakarta", 530_000),
    ("Jawa Barat", 430_000), ("Jawa Tengah", 370_000), ("DI Yogyakarta", 420_000), ("Jawa Timur", 410_000),
    ("Banten", 370_000), ("Bali", 480_000), ("Nusa Tenggara Barat", 440_000),
    ("Nusa Tenggara Timur", 430_000),
    ("Kalimantan Barat", 380_000), ("Kalimantan Tengah", 360_000), ("Kalimantan Selatan", 380_000),
    ("Kalimantan Timur", 430_000), ("Kalimantan Utara", 430_000), ("Sulawesi Utara", 370_000),
    ("Sulawesi Tengah", 370_000), ("Sulawesi Selatan", 430_000), ("Sulawesi Tenggara", 380_000),
    ("Gorontalo", 370_000), ("Sulawesi Barat", 410_000), ("Maluku", 380_000), ("Maluku Utara", 430_000),
    ("Papua", 580_000), ("Papua Barat", 480_000), ("Papua Selatan", 580_000), ("Papua Tengah", 580_000),
    ("Papua Pegunungan", 580_000), ("Papua Barat Daya", 480_000),
)  # fmt: skip
ALLOWANCES = (("Luar Daerah", 1.0), ("Dalam Kota Lebih dari 8 Jam", 0.4), ("Diklat", 0.3))
LODGING = (
    ("Pejabat Eselon II", 3.9), ("Pejabat Eselon III/Golongan IV", 2.8),
    ("Pejabat Eselon IV/Golongan III", 2.2), ("Golongan I/II", 1.8),
)  # fmt: skip
FLIGHTS: tuple[tuple[str, int], ...] = (  # economy fare from Batam (Hang Nadim), one way
    ("Jakarta", 1_350_000), ("Medan", 1_400_000), ("Pekanbaru", 950_000), ("Padang", 1_300_000),
    ("Palembang", 1_200_000), ("Jambi", 1_100_000), ("Lampung", 1_300_000), ("Surabaya", 1_900_000),
    ("Yogyakarta", 1_700_000), ("Semarang", 1_600_000), ("Bandung", 1_550_000), ("Denpasar", 2_400_000),
    ("Makassar", 2_700_000), ("Balikpapan", 2_500_000), ("Pontianak", 1_800_000), ("Banda Aceh", 1_900_000),
    ("Manado", 3_400_000), ("Kupang", 3_300_000), ("Ambon", 4_100_000), ("Jayapura", 5_500_000),
    ("Mataram", 2_600_000), ("Natuna", 1_500_000),
)  # fmt: skip
FERRIES: tuple[tuple[str, int], ...] = (  # from Tanjung Balai Karimun unless stated
    ("Batam (Sekupang)", 150_000), ("Batam (Harbour Bay)", 160_000), ("Tanjung Pinang", 290_000),
    ("Tanjung Batu", 85_000), ("Moro", 150_000), ("Durai", 120_000), ("Selat Panjang", 220_000),
    ("Pekanbaru via Buton", 360_000), ("Tanjung Batu - Batam", 200_000),
    ("Tanjung Batu - Selat Panjang", 190_000),
    ("Moro - Batam", 150_000), ("Moro - Tanjung Pinang", 210_000),
)  # fmt: skip


def _price(rng: random.Random, value: float) -> int:
    """A little noise, then rounded as SSH tables round: coarser steps for dearer items."""
    value *= rng.uniform(0.96, 1.04)
    step = (
        50
        if value < 10_000
        else 100
        if value < 100_000
        else 500
        if value < 1e6
        else 1_000
        if value < 1e7
        else 10_000
    )
    return max(step, round(value / step) * step)


Rate = tuple[str, str, str, float]  # uraian, spesifikasi, satuan, price


def _travel() -> list[tuple[tuple[str, str], list[Rate]]]:
    """Travel rates as (rekening, [(uraian, spesifikasi, satuan, price)]) per sub-group."""
    allowances: list[Rate] = [
        (f"Uang Harian Perjalanan Dinas {kind}", province, "orang/hari", rate * factor)
        for kind, factor in ALLOWANCES
        for province, rate in PROVINCES
    ]
    lodging: list[Rate] = [
        ("Biaya Penginapan Perjalanan Dinas", f"{province}; {level}", "orang/malam", rate * factor)
        for level, factor in LODGING
        for province, rate in PROVINCES
    ]
    lodging += [("Biaya Taksi Perjalanan Dinas", p, "orang/kali", rate * 0.5) for p, rate in PROVINCES]
    tickets: list[Rate] = [
        ("Tiket Pesawat", f"Batam - {city}; Ekonomi", "orang/kali", float(fare)) for city, fare in FLIGHTS
    ]
    tickets += [
        ("Tiket Pesawat", f"Batam - {city}; Bisnis", "orang/kali", fare * 2.6) for city, fare in FLIGHTS
    ]
    tickets += [("Tiket Kapal Cepat", route, "orang/kali", float(fare)) for route, fare in FERRIES]
    local: list[Rate] = []
    for kec in KECAMATAN:
        far = 2.2 if kec.island == OUTER else 1.0
        local += [
            (
                "Uang Harian Perjalanan Dinas Dalam Daerah",
                f"Kecamatan {kec.name}",
                "orang/hari",
                150_000 * far**0.5,
            ),
            ("Biaya Transport Lokal", f"Ke Kecamatan {kec.name}", "orang/kali", 75_000 * far),
            ("Sewa Pompong", f"Kecamatan {kec.name}", "kali", 350_000 * far),
        ]
    return [(PERJADIN, allowances), (PERJADIN, lodging), (PERJADIN, tickets), (DALAM_KOTA, local)]


def _goods(text: str) -> list[tuple[tuple[str, str], list[tuple[str, str, int, str, float]]]]:
    """Parse a GOODS table into sub-groups: (rekening, [(uraian, satuan, price, spec, factor)])."""
    subs: list[tuple[tuple[str, str], list[tuple[str, str, int, str, float]]]] = []
    for line in text.strip().splitlines():
        if line.startswith("@"):
            code, name = line[1:].strip().split(" ", 1)
            subs.append(((code, name), []))
            continue
        uraian, satuan, price, specs = (part.strip() for part in line.split("|"))
        for spec in specs.split(";"):
            name, _, factor = spec.strip().partition("*")
            subs[-1][1].append((uraian, satuan, int(price), name, float(factor or 1)))
    return subs


def ssh_items(rng: random.Random) -> list[Ssh]:
    """Every SSH item, goods first (each spec in each grade or zone), then travel rates."""
    items: list[Ssh] = []
    for k, (kelompok, (axis, table)) in enumerate(GOODS.items(), 1):
        for s, (rekening, goods) in enumerate(_goods(table), 1):
            variants = [(g, label, mult) for g in goods for label, mult in axis]
            for n, ((uraian, satuan, price, spec, factor), label, mult) in enumerate(variants, 1):
                items.append(
                    Ssh(
                        kode=f"1.1.12.{k:02d}.{s:02d}.{n:04d}",
                        uraian=uraian,
                        spesifikasi=f"{spec}; {label}",
                        satuan=satuan,
                        harga=_price(rng, price * factor * mult),
                        kelompok=kelompok,
                        rekening=rekening,
                    )
                )
    k = len(GOODS) + 1
    for s, (rekening, rates) in enumerate(_travel(), 1):
        for n, (uraian, spec, satuan, rate) in enumerate(rates, 1):
            items.append(
                Ssh(
                    kode=f"1.1.12.{k:02d}.{s:02d}.{n:04d}",
                    uraian=uraian,
                    spesifikasi=spec,
                    satuan=satuan,
                    harga=_price(rng, rate),
                    kelompok=TRAVEL,
                    rekening=rekening,
                )
            )
    return items


def ssh_table(items: list[Ssh]) -> Table:
    rows: list[Row] = [(i.kode, i.uraian, i.spesifikasi, i.satuan, i.harga, i.kelompok) for i in items]
    text = "TEXT NOT NULL"
    return Table(
        name="ssh",
        columns=(
            ("kode", text),
            ("uraian", text),
            ("spesifikasi", text),
            ("satuan", text),
            ("harga", "INTEGER NOT NULL"),
            ("kelompok", text),
        ),
        key="kode",
        indexes=("kelompok", "uraian"),
        rows=rows,
    )
