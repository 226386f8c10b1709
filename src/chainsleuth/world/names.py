"""KYC profiles from small built-in per-country lists (no Faker, no network), so profiles are deterministic.

Profiles only need to look plausible and be internally consistent (nationality, phone prefix, city and postal
code of one country); matching logic downstream works on exact values, not on realism of the names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

# country: (phone prefix, first names, last names, cities with postal code format, street words, weight)
COUNTRIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...], str, float]] = {
    "US": (
        "+1",
        ("James", "Mary", "Robert", "Linda", "Michael", "Jennifer", "David", "Ashley", "Tyler", "Emily"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Moore"),
        (("New York", "1####"), ("Austin", "787##"), ("Denver", "802##"), ("Miami", "331##")),
        "Street",
        0.18,
    ),
    "GB": (
        "+44",
        ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Emily", "Noah", "Grace"),
        ("Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green", "Hall", "Wood"),
        (("London", "E# #AA"), ("Leeds", "LS# #AA"), ("Bristol", "BS# #AA")),
        "Road",
        0.10,
    ),
    "DE": (
        "+49",
        ("Lukas", "Anna", "Leon", "Marie", "Finn", "Sophie", "Jonas", "Lena", "Paul", "Laura"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann"),
        (("Berlin", "10###"), ("Hamburg", "20###"), ("München", "80###")),
        "Straße",
        0.10,
    ),
    "FR": (
        "+33",
        ("Gabriel", "Louise", "Léo", "Jade", "Raphaël", "Emma", "Arthur", "Chloé", "Hugo", "Manon"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy"),
        (("Paris", "750##"), ("Lyon", "6900#"), ("Marseille", "130##")),
        "Rue",
        0.08,
    ),
    "NL": (
        "+31",
        ("Daan", "Emma", "Sem", "Julia", "Lucas", "Mila", "Levi", "Tess", "Finn", "Sara"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Mulder"),
        (("Amsterdam", "10## AA"), ("Rotterdam", "30## AA"), ("Utrecht", "35## AA")),
        "straat",
        0.06,
    ),
    "ES": (
        "+34",
        ("Hugo", "Lucía", "Martín", "Sofía", "Pablo", "Martina", "Daniel", "María", "Álvaro"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez"),
        (("Madrid", "280##"), ("Barcelona", "080##"), ("Valencia", "460##")),
        "Calle",
        0.07,
    ),
    "PL": (
        "+48",
        ("Jan", "Zuzanna", "Antoni", "Julia", "Franciszek", "Zofia", "Jakub", "Hanna", "Adam"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski"),
        (("Warszawa", "00-###"), ("Kraków", "30-###"), ("Gdańsk", "80-###")),
        "ulica",
        0.06,
    ),
    "TR": (
        "+90",
        ("Yusuf", "Zeynep", "Eymen", "Elif", "Ömer", "Defne", "Mustafa", "Asel", "Ali", "Azra"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın"),
        (("İstanbul", "34###"), ("Ankara", "06###"), ("İzmir", "35###")),
        "Sokak",
        0.08,
    ),
    "NG": (
        "+234",
        ("Chinedu", "Ngozi", "Emeka", "Aisha", "Tunde", "Funmi", "Ibrahim", "Amaka", "Seun"),
        ("Okafor", "Adeyemi", "Bello", "Eze", "Okonkwo", "Balogun", "Nwosu", "Abubakar"),
        (("Lagos", "100###"), ("Abuja", "900###"), ("Ibadan", "200###")),
        "Close",
        0.07,
    ),
    "IN": (
        "+91",
        ("Aarav", "Ananya", "Vivaan", "Diya", "Aditya", "Isha", "Arjun", "Priya", "Rohan", "Kavya"),
        ("Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Mehta", "Das"),
        (("Mumbai", "400###"), ("Bengaluru", "560###"), ("Delhi", "110###")),
        "Marg",
        0.08,
    ),
    "BR": (
        "+55",
        ("Miguel", "Helena", "Arthur", "Alice", "Heitor", "Laura", "Davi", "Valentina", "Gael"),
        ("Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima"),
        (("São Paulo", "01###-###"), ("Rio de Janeiro", "20###-###"), ("Curitiba", "80###-###")),
        "Rua",
        0.07,
    ),
    "VN": (
        "+84",
        ("Minh", "Linh", "Huy", "Trang", "Khang", "Ngọc", "Bảo", "Mai", "Tuấn", "Hương"),
        ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Đặng"),
        (("Hà Nội", "100000"), ("Hồ Chí Minh", "700000"), ("Đà Nẵng", "550000")),
        "Đường",
        0.05,
    ),
}
COUNTRY_CODES = tuple(COUNTRIES)
COUNTRY_WEIGHTS = np.array([COUNTRIES[c][5] for c in COUNTRY_CODES]) / sum(COUNTRIES[c][5] for c in COUNTRY_CODES)

# occupation: (median income USD, log-sd, typical source of funds)
OCCUPATIONS: dict[str, tuple[int, float, str]] = {
    "student": (9_000, 0.6, "other"),
    "waiter": (24_000, 0.3, "salary"),
    "retail worker": (28_000, 0.3, "salary"),
    "nurse": (55_000, 0.3, "salary"),
    "teacher": (48_000, 0.3, "salary"),
    "software engineer": (110_000, 0.4, "salary"),
    "accountant": (70_000, 0.3, "salary"),
    "small business owner": (80_000, 0.7, "business"),
    "physician": (200_000, 0.4, "salary"),
    "lawyer": (150_000, 0.5, "salary"),
    "trader": (120_000, 0.8, "investments"),
    "retired": (35_000, 0.5, "pension"),
    "unemployed": (6_000, 0.7, "savings"),
    "crypto miner": (60_000, 0.8, "mining"),
    "consultant": (95_000, 0.5, "business"),
}
OCCUPATION_NAMES = tuple(OCCUPATIONS)
OCCUPATION_WEIGHTS = np.array([4, 5, 6, 6, 6, 10, 6, 8, 2, 2, 4, 6, 3, 2, 6], dtype=float)
OCCUPATION_WEIGHTS /= OCCUPATION_WEIGHTS.sum()
DOCUMENT_TYPES = ("passport", "national_id", "driving_licence")
DOMAINS = ("mail.example", "inbox.example", "post.example", "web.example")


@dataclass
class Profile:
    """One customer's KYC profile, in the column order of customers.parquet (minus ids and dates)."""

    full_name: str
    date_of_birth: dt.date
    nationality: str
    id_document_type: str
    id_document_number: str
    id_document_country: str
    email: str
    phone: str
    address_line: str
    city: str
    postal_code: str
    country_of_residence: str
    occupation: str
    declared_annual_income_usd: int
    source_of_funds: str
    risk_rating: str
    kyc_level: int


def _fill(pattern: str, rng: np.random.Generator) -> str:
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(str(int(rng.integers(10))))
        elif ch == "A":
            out.append(chr(65 + int(rng.integers(26))))
        else:
            out.append(ch)
    return "".join(out)


def make_profile(
    rng: np.random.Generator,
    number: int,
    *,
    country: str | None = None,
    occupation: str | None = None,
    income: int | None = None,
    risk: str | None = None,
) -> Profile:
    """A plausible, internally consistent KYC profile; ``number`` makes the email unique."""
    code = country or COUNTRY_CODES[int(rng.choice(len(COUNTRY_CODES), p=COUNTRY_WEIGHTS))]
    prefix, firsts, lasts, cities, street, _ = COUNTRIES[code]
    first = firsts[int(rng.integers(len(firsts)))]
    last = lasts[int(rng.integers(len(lasts)))]
    city, postal = cities[int(rng.integers(len(cities)))]
    job = occupation or OCCUPATION_NAMES[int(rng.choice(len(OCCUPATION_NAMES), p=OCCUPATION_WEIGHTS))]
    median, sigma, funds = OCCUPATIONS[job]
    declared = income if income is not None else int(round(median * float(rng.lognormal(0.0, sigma)), -2))
    age_days = int(rng.integers(19 * 365, 75 * 365))
    dob = dt.date(2024, 1, 1) - dt.timedelta(days=age_days)
    doc = DOCUMENT_TYPES[int(rng.integers(3))]
    foreign = rng.random() < 0.08
    residence = COUNTRY_CODES[int(rng.integers(len(COUNTRY_CODES)))] if foreign else code
    user = (first + "." + last).lower().replace(" ", "")
    user = "".join(ch for ch in user if ch.isascii())
    rating = risk or (
        "high" if job in ("unemployed", "trader") and rng.random() < 0.3 else "medium" if rng.random() < 0.15 else "low"
    )
    return Profile(
        full_name=f"{first} {last}",
        date_of_birth=dob,
        nationality=code,
        id_document_type=doc,
        id_document_number=code + _fill("########", rng),
        id_document_country=code,
        email=f"{user}{number}@{DOMAINS[number % len(DOMAINS)]}",
        phone=prefix + _fill("##########", rng),
        address_line=f"{int(rng.integers(1, 200))} {last} {street}",
        city=city,
        postal_code=_fill(postal, rng),
        country_of_residence=residence,
        occupation=job,
        declared_annual_income_usd=declared,
        source_of_funds=funds if rng.random() < 0.8 else ("savings" if rng.random() < 0.5 else "crypto_trading"),
        risk_rating=rating,
        kyc_level=int(rng.choice(4, p=[0.02, 0.18, 0.6, 0.2])),
    )
