"""Personal names as they appear in a Riau Islands register: Malay, Javanese, Minang, Bugis,
Batak and Chinese-Indonesian families, each with its own naming habits.

`person_name(rng, group, sex, age, surname)` builds one name; `family_surname(rng, group)`
draws the name a family passes on (Batak marga, Chinese-Indonesian surname), or "" for
groups that do not use one. `variant(rng, name)` spells a name differently, the way two
agencies' records of the same person drift apart.
"""

from __future__ import annotations

import random

GROUPS: tuple[tuple[str, int], ...] = (
    ("melayu", 38),
    ("jawa", 22),
    ("tionghoa", 14),
    ("minang", 9),
    ("batak", 9),
    ("bugis", 8),
)
MUSLIM_GROUPS = ("melayu", "jawa", "minang", "bugis")

GIVEN: dict[tuple[str, str], tuple[str, ...]] = {
    ("melayu", "L"): (
        "Muhammad", "Ahmad", "Abdul", "Rizky", "Fadli", "Hafiz", "Syahrul", "Zulkifli", "Azhar",
        "Hamdan", "Ismail", "Yusuf", "Iskandar", "Faisal", "Hasan", "Husin", "Kamal", "Ramli",
        "Jamal", "Taufik", "Firdaus", "Amran", "Azmi", "Rosli", "Zainal", "Razak", "Harun", "Idris",
        "Khairul", "Effendi", "Rahmat", "Arifin", "Junaidi", "Saiful", "Riduan", "Syamsul", "Aidil",
        "Fikri", "Alif", "Arfan", "Dzaki", "Hakim", "Rahman", "Aziz", "Sulaiman",
    ),
    ("melayu", "P"): (
        "Siti", "Nur", "Nurul", "Aisyah", "Fatimah", "Zubaidah", "Rohani", "Zaleha", "Halimah",
        "Rahmah", "Salmah", "Norma", "Azizah", "Juliana", "Rosmaini", "Hasnah", "Maimunah",
        "Zuraidah", "Khadijah", "Nabila", "Putri", "Dinda", "Syifa", "Azzahra", "Annisa",
        "Salsabila", "Nadia", "Fitri", "Yusnita", "Mariani", "Suryani", "Rosnah", "Asiah", "Jamilah",
    ),
    ("jawa", "L"): (
        "Sutrisno", "Suparno", "Slamet", "Joko", "Budi", "Agus", "Bambang", "Wahyudi", "Sugiarto",
        "Hadi", "Teguh", "Eko", "Dwi", "Tri", "Heru", "Purwanto", "Supriyadi", "Gunawan", "Setiawan",
        "Nugroho", "Prasetyo", "Santoso", "Wibowo", "Yulianto", "Kurniawan", "Aditya", "Bayu",
        "Dimas", "Galih", "Rudi", "Wahyu", "Sugeng", "Suyanto", "Haryanto", "Sukamto",
    ),
    ("jawa", "P"): (
        "Sri", "Endang", "Wahyuni", "Lestari", "Rahayu", "Sulastri", "Suharti", "Tutik", "Sumiati",
        "Puji", "Dewi", "Ratna", "Wulandari", "Astuti", "Kartini", "Yuliani", "Ningsih",
        "Handayani", "Setyowati", "Anggraini", "Dyah", "Ayu", "Rini", "Susilowati", "Siswati",
    ),
    ("minang", "L"): (
        "Syafrizal", "Yulizar", "Afrizal", "Zulfikar", "Irwan", "Hendri", "Yusrizal", "Erizal",
        "Masrul", "Darmawan", "Febrian", "Rahmad", "Fauzan", "Ilham", "Rezki", "Alfian",
    ),
    ("minang", "P"): (
        "Desmawati", "Yusnimar", "Rosnida", "Elfi", "Yuliarti", "Nurhayati", "Afrida", "Rahmi",
        "Yenti", "Fitria", "Nelly", "Mardiana", "Silvia", "Zurniati",
    ),
    ("bugis", "L"): (
        "Baso", "Ambo", "Syamsuddin", "Hasanuddin", "Nurdin", "Arsyad", "Sudirman", "Jumadi",
        "Mappa", "Tahir", "Rusli", "Ilyas", "Basri", "Akbar", "Muhammad",
    ),
    ("bugis", "P"): (
        "Sitti", "Hasnah", "Rahmawati", "Tenri", "Hasmiah", "Nurmiati", "Hadijah", "Rosmiati",
        "Bungawali", "Darmawati", "Sumarni", "Nurhaedah",
    ),
    ("batak", "L"): (
        "Roy", "Jonson", "Marihot", "Parulian", "Hotman", "Sahat", "Daniel", "Samuel", "Togar",
        "Bonar", "Rudolf", "Binsar", "Hendrik", "Frans", "Jhonny", "Poltak",
    ),
    ("batak", "P"): (
        "Rosmawati", "Tiurma", "Rianti", "Lamtiar", "Maria", "Yohana", "Desi", "Ruth", "Lusiana",
        "Rotua", "Melati", "Sondang", "Romauli", "Nurmaida",
    ),
    ("tionghoa", "L"): (
        "Hendra", "Budi", "Andi", "Rudy", "Johan", "Steven", "Kevin", "Wilson", "Jimmy", "Ferry",
        "Herman", "Suwandi", "Hartono", "Edi", "Aman", "Vincent", "Jason", "Michael", "Darwin",
    ),
    ("tionghoa", "P"): (
        "Lily", "Yenny", "Susanti", "Linda", "Meliana", "Jessica", "Vivian", "Cindy", "Angeline",
        "Fenny", "Lina", "Yuli", "Merry", "Elvina", "Christine", "Sherly", "Wenny",
    ),
}  # fmt: skip

SURNAMES: dict[str, tuple[str, ...]] = {
    "batak": (
        "Simanjuntak", "Siregar", "Nainggolan", "Sitompul", "Hutapea", "Sinaga", "Pardede",
        "Situmorang", "Manurung", "Panjaitan", "Simbolon", "Tambunan", "Hutagalung", "Sihombing",
    ),
    "tionghoa": (
        "Wijaya", "Halim", "Gunawan", "Salim", "Tanoto", "Sutanto", "Hartanto", "Kusuma", "Setiadi",
        "Tanjaya", "Widjaja", "Chandra", "Lim", "Tan", "Liem", "Ong", "Lie", "Santoso",
    ),
}  # fmt: skip
HOKKIEN_SURNAMES = ("Tan", "Lim", "Ng", "Ang", "Ong", "Lee", "Goh", "Teo", "Chua", "Koh", "Yap", "Lau")
HOKKIEN_SYLLABLES = (
    "Ah", "Kim", "Hock", "Seng", "Huat", "Kiong", "Bee", "Hoon", "Siew", "Lan", "Mei", "Chin",
    "Tiong", "Keng", "Lian", "Eng", "Kwee", "Sui", "Yong", "Choon",
)  # fmt: skip
NOBLE = {"L": ("Raja", "Tengku", "Wan"), "P": ("Raja", "Tengku", "Wan", "Encik")}

SPELLINGS: tuple[tuple[str, str], ...] = (
    ("Muhammad", "Muhamad"), ("Ahmad", "Achmad"), ("Sy", "S"), ("Siti", "Sitti"), ("Nur", "Noor"),
    ("Yu", "Ju"), ("u", "oe"), ("j", "dj"), ("y", "i"), ("ff", "f"), ("dh", "d"), ("i", "y"),
)  # fmt: skip


def person_name(rng: random.Random, group: str, sex: str, age: int, surname: str) -> str:
    """A full name for a person of `group`; `surname` is the family's (may be empty)."""
    given = GIVEN[group, sex]
    first = rng.choice(given)
    if group == "tionghoa":
        if age >= 55 and rng.random() < 0.5:
            return " ".join((rng.choice(HOKKIEN_SURNAMES), *rng.sample(HOKKIEN_SYLLABLES, 2)))
        middle = f" {rng.choice(given)}" if rng.random() < 0.15 else ""
        return f"{first}{middle} {surname}"
    if group == "batak":
        middle = f" {rng.choice(given)}" if rng.random() < 0.3 else ""
        return f"{first}{middle} {surname}"
    if group == "jawa" and rng.random() < 0.45:
        return first
    second = rng.choice(given)
    while second == first:
        second = rng.choice(given)
    if group == "melayu" and rng.random() < 0.04:
        return f"{rng.choice(NOBLE[sex])} {first} {second}"
    if group == "bugis" and sex == "L" and rng.random() < 0.12:
        return f"Andi {first} {second}"
    return f"{first} {second}" if rng.random() < 0.8 else first


def family_surname(rng: random.Random, group: str) -> str:
    return rng.choice(SURNAMES[group]) if group in SURNAMES else ""


def cosmetic_variant(rng: random.Random, name: str) -> str:
    """The same name typed carelessly: case and spacing differ, letters do not."""
    style = rng.randrange(3)
    if style == 0:
        return name.upper()
    if style == 1:
        return "  " + name.lower().replace(" ", "  ") + " "
    return name.replace(" ", "   ", 1) + "  "


def spelling_variant(rng: random.Random, name: str) -> str:
    """A genuinely different spelling (old orthography, a dropped letter) or another name."""
    options = [(old, new) for old, new in SPELLINGS if old in name]
    if options:
        old, new = rng.choice(options)
        return name.replace(old, new, 1)
    other = name
    while other.casefold() == name.casefold():
        other = f"{name.split()[0]} {rng.choice(GIVEN['melayu', 'L'])}"
    return other
