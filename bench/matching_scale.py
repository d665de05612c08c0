"""A fast synthetic CRM ↔ workspace people set for the matching benchmark's scale run, with its truth.

``generate(contacts=100_000, people=1_000_000, seed=13)`` gives workspace people and CRM contacts overlapping the
way real data does (``share_in_people`` ≈ 70 % of contacts have their person; the rest are people the workspace
does not hold, drawn from the same name and company distributions, so they are hard negatives):

* names from Zipf-weighted pools (English, Spanish, German, French given names and surnames, some with accents),
  so common names are common and several people share a name at different companies (and a few at the same one);
* companies with a legal form and a domain; each has a switchboard phone that colleagues share;
* people: work e-mail at their company's domain (60 %), a free-mail address (15 %) or none; a mobile phone (35 %)
  or the switchboard (25 %); a title; 0-2 past companies; a profile URL (60 %); city and country;
* a contact of a person carries CRM noise: a nickname (Bob/Robert, Paco/Francisco, 8 %), a typo (8 %), accents
  dropped (most CRMs) or added, upper case (5 %), swapped first/last (1 %), the company's legal form written
  differently ("Contoso Ltd." / "CONTOSO"), a job change (10 %: the CRM still has the past company, its e-mail and
  the old title), e-mail missing (25 %) or masked (3 %), the switchboard instead of the mobile, a profile URL only
  when the admin maps the column (15 %), a title written differently; 3 % of the people have two CRM contacts
  (a duplicate or a lead);
* ``changed(contacts, n)``: ``n`` contacts edited as a CRM user would (new title, new phone, fixed typo) for the
  incremental run.

Rows use salesbridge's record field names (``bench.matching_data.person_records`` makes ``PersonRecord``);
``truth`` maps a contact id to its person id (contacts without a person are absent). Deterministic for a seed.
"""

from __future__ import annotations

import dataclasses
import random
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice
from typing import Any

Row = dict[str, Any]

# Given names: (name, nickname or "", weight class). Nicknames are common English and Spanish diminutives.
GIVEN = [
    ("Robert", "Bob"), ("William", "Bill"), ("Richard", "Dick"), ("James", "Jim"), ("Michael", "Mike"),
    ("Elizabeth", "Liz"), ("Margaret", "Peggy"), ("Katherine", "Kate"), ("Jennifer", "Jen"), ("Thomas", "Tom"),
    ("Christopher", "Chris"), ("Daniel", "Dan"), ("Matthew", "Matt"), ("Anthony", "Tony"), ("Joseph", "Joe"),
    ("Patricia", "Pat"), ("Susan", "Sue"), ("Deborah", "Debbie"), ("Rebecca", "Becky"), ("Alexander", "Alex"),
    ("Francisco", "Paco"), ("José", "Pepe"), ("Ignacio", "Nacho"), ("Dolores", "Lola"), ("Manuel", "Manolo"),
    ("Enrique", "Quique"), ("Rafael", "Rafa"), ("Antonio", "Toni"), ("Mercedes", "Merche"), ("Concepción", "Concha"),
    ("John", ""), ("Mary", ""), ("David", ""), ("Sarah", ""), ("Laura", ""), ("Emma", ""), ("Olivia", ""),
    ("Noah", ""), ("Liam", ""), ("Sophia", ""), ("Lucía", ""), ("María", ""), ("Carmen", ""), ("Javier", ""),
    ("Sergio", ""), ("Raúl", ""), ("Álvaro", ""), ("Inés", ""), ("Begoña", ""), ("Iñaki", ""), ("Jürgen", ""),
    ("Jörg", ""), ("Günter", ""), ("Lukas", ""), ("Anna", ""), ("Hannah", ""), ("François", ""), ("Hélène", ""),
    ("Émile", ""), ("Chloé", ""), ("Léa", ""), ("Amélie", ""), ("Noémie", ""), ("Pierre", ""), ("Julien", ""),
    ("Mohammed", ""), ("Fatima", ""), ("Wei", ""), ("Mei", ""), ("Hiroshi", ""), ("Yuki", ""), ("Priya", ""),
    ("Arjun", ""), ("Olga", ""), ("Dmitri", ""), ("Søren", ""), ("Björn", ""), ("Zoë", ""), ("Niamh", ""),
    ("Siobhán", ""), ("Seán", ""), ("Paul", ""), ("Mark", ""), ("Peter", ""), ("Andrew", ""), ("Steven", ""),
    ("Kevin", ""), ("Brian", ""), ("George", ""), ("Edward", ""), ("Ronald", ""), ("Linda", ""), ("Barbara", ""),
    ("Nancy", ""), ("Karen", ""), ("Lisa", ""), ("Betty", ""), ("Sandra", ""), ("Ashley", ""), ("Emily", ""),
]  # fmt: skip

SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas",
    "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young",
    "García", "Martínez", "Rodríguez", "López", "González", "Pérez", "Sánchez", "Ramírez", "Fernández", "Gómez",
    "Díaz", "Muñoz", "Álvarez", "Jiménez", "Hernández", "Ruiz", "Navarro", "Domínguez", "Vázquez", "Castaño",
    "Ibáñez", "Peña", "Núñez", "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schäfer", "Köhler", "Groß", "Bauer", "Dubois", "Lefèvre", "Moreau", "Girard", "Bérénger", "Rousseau",
    "Fontaine", "Mercier", "O'Brien", "O'Connor", "McCarthy", "Murphy", "Kelly", "Ryan", "Walsh", "Byrne",
    "van der Berg", "de Vries", "Jansen", "Bakker", "Visser", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi",
    "Kowalski", "Nowak", "Wiśniewski", "Novák", "Svensson", "Johansson", "Nielsen", "Hansen", "Kumar", "Patel",
    "Singh", "Sharma", "Wang", "Li", "Zhang", "Chen", "Liu", "Tanaka", "Suzuki", "Sato", "Kim", "Lee", "Park",
    "Nguyen", "Tran", "Ivanov", "Petrov", "Silva", "Santos", "Oliveira", "Costa", "Pereira", "Almeida", "Cohen",
    "Levi", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker",
    "Evans", "Edwards", "Collins", "Stewart", "Morris", "Rogers", "Reed", "Cook", "Morgan", "Bell", "Cooper",
    "Richardson", "Cox", "Howard", "Ward", "Torres", "Peterson", "Gray", "James", "Watson", "Brooks", "Sanders",
    "Price", "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins", "Perry", "Powell", "Long",
    "Patterson", "Hughes", "Flores", "Washington", "Butler", "Simmons", "Foster", "Bryant", "Alexander", "Russell",
    "Griffin", "Hayes", "Myers", "Ford", "Hamilton", "Graham", "Sullivan", "Wallace", "Woods", "Cole", "West",
    "Jordan", "Owens", "Reynolds", "Fisher", "Ellis", "Harrison", "Gibson", "McDonald", "Cruz", "Marshall",
    "Ortiz", "Gomez", "Murray", "Freeman", "Wells", "Webb", "Simpson", "Stevens", "Tucker", "Porter", "Hunter",
    "Hicks", "Crawford", "Henry", "Boyd", "Mason", "Morales", "Kennedy", "Warren", "Dixon", "Ramos", "Reyes",
    "Burns", "Gordon", "Shaw", "Holmes", "Rice", "Robertson", "Hunt", "Black", "Daniels", "Palmer", "Mills",
    "Nichols", "Grant", "Knight", "Ferguson", "Rose", "Stone", "Hawkins", "Dunn", "Perkins", "Hudson", "Spencer",
    "Gardner", "Stephens", "Payne", "Pierce", "Berry", "Matthews", "Arnold", "Wagner", "Willis", "Ray", "Watkins",
    "Olson", "Carroll", "Duncan", "Snyder", "Hart", "Cunningham", "Bradley", "Lane", "Andrews", "Ruiz", "Harper",
]  # fmt: skip

COMPANY_WORDS = [
    "Contoso", "Fabrikam", "Northwind", "Adventure", "Tailspin", "Wingtip", "Litware", "Proseware", "Lucerne",
    "Margie", "Fourth", "Coffee", "Alpine", "Blue", "Yonder", "Trey", "Woodgrove", "Humongous", "Graphic",
    "Consolidated", "Wide", "World", "Southridge", "Northridge", "Datum", "Relecloud", "Tasmanian", "Vanarsdel",
    "Bellows", "Fincher", "Lamna", "Munson", "Pickle", "Ikigai", "Nod", "Olympia", "Phoenix", "Quantum", "Rainier",
    "Sierra", "Tundra", "Umbra", "Vertex", "Willow", "Xenon", "Zephyr", "Aurora", "Boreal", "Cascade", "Delta",
    "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orchid",
    "Pinnacle", "Quarry", "Redwood", "Summit", "Terra", "Unity", "Valley", "Waypoint", "Aster", "Beacon", "Cobalt",
    "Dynamo", "Echo", "Falcon", "Glacier", "Horizon", "Ionic", "Jasper", "Keystone", "Lattice", "Monarch", "Nova",
    "Onyx", "Prism", "Quill", "Ridge", "Solstice", "Talon", "Ultra", "Vector", "Wren", "Yarrow", "Zenith",
    "Ibérica", "Andaluza", "Levante", "Cantábrica", "Atlántica", "Mediterránea", "Norteña", "Castellana",
]  # fmt: skip
COMPANY_KINDS = [
    "Systems", "Software", "Logistics", "Foods", "Energy", "Consulting", "Partners", "Labs", "Analytics", "Health",
    "Bank", "Insurance", "Media", "Motors", "Pharma", "Retail", "Capital", "Solutions", "Technologies", "Group",
    "Industries", "Airlines", "Telecom", "Construcciones", "Seguros", "Alimentación", "Energía", "Transportes",
]  # fmt: skip
LEGAL_FORMS = ["Inc.", "Ltd.", "LLC", "Corp.", "GmbH", "S.A.", "S.L.", "B.V.", "PLC", "AG", "SAS", "Co."]
LEGAL_VARIANTS = {
    "Inc.": ["Inc", "Incorporated", ""],
    "Ltd.": ["Ltd", "Limited", ""],
    "LLC": ["L.L.C.", ""],
    "Corp.": ["Corporation", "Corp", ""],
    "GmbH": ["G.m.b.H.", ""],
    "S.A.": ["SA", "S.A", ""],
    "S.L.": ["SL", ""],
    "B.V.": ["BV", "B V", ""],
    "PLC": ["plc", "P.L.C.", ""],
    "AG": ["A.G.", ""],
    "SAS": ["S.A.S.", ""],
    "Co.": ["Company", ""],
}
TITLES = [
    ("Chief Executive Officer", "CEO"), ("Chief Financial Officer", "CFO"), ("Chief Technology Officer", "CTO"),
    ("Vice President of Sales", "VP Sales"), ("Vice President, Marketing", "VP Marketing"),
    ("Head of Procurement", "Procurement Lead"), ("Sales Director", "Director of Sales"),
    ("Account Executive", "AE"), ("Software Engineer", "Software Developer"), ("Senior Software Engineer", "Sr. SWE"),
    ("Product Manager", "PM"), ("Operations Manager", "Ops Manager"), ("IT Manager", "IT Lead"),
    ("Office Manager", "Office Mgr"), ("Purchasing Manager", "Buyer"), ("Marketing Manager", "Marketing Mgr"),
    ("Director of Engineering", "Engineering Director"), ("Data Analyst", "Analyst"),
    ("Controller", "Financial Controller"), ("Director Comercial", "Dir. Comercial"),
    ("Jefe de Compras", "Responsable de Compras"), ("Gerente", "Gerente General"),
]  # fmt: skip
CITIES = [
    ("New York", "NY", "US"), ("Chicago", "IL", "US"), ("Seattle", "WA", "US"), ("Austin", "TX", "US"),
    ("Boston", "MA", "US"), ("San Francisco", "CA", "US"), ("Denver", "CO", "US"), ("Atlanta", "GA", "US"),
    ("London", "England", "GB"), ("Manchester", "England", "GB"), ("Dublin", "Leinster", "IE"),
    ("Madrid", "Madrid", "ES"), ("Barcelona", "Cataluña", "ES"), ("Sevilla", "Andalucía", "ES"),
    ("Málaga", "Andalucía", "ES"), ("Bilbao", "País Vasco", "ES"), ("Berlin", "Berlin", "DE"),
    ("München", "Bayern", "DE"), ("Paris", "Île-de-France", "FR"), ("Lyon", "Auvergne-Rhône-Alpes", "FR"),
    ("Amsterdam", "Noord-Holland", "NL"), ("Milano", "Lombardia", "IT"), ("Toronto", "ON", "CA"),
    ("Mexico City", "CDMX", "MX"),
]  # fmt: skip
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com"]


def fold(text: str) -> str:
    """Lower-case ASCII without accents (the way most CRMs and e-mail addresses hold names)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    return list(accumulate(1 / (rank**exponent) for rank in range(1, count + 1)))


@dataclass(frozen=True)
class ScaleSet:
    people: Any  # a list, or a PeopleStream
    contacts: list[Any]
    truth: dict[str, str]
    """contact id → person id (contacts whose person the workspace does not hold are absent)."""


class _Generator:
    def __init__(self, seed: int, companies: int) -> None:
        self.random = random.Random(seed)
        self.given_weights = zipf_weights(len(GIVEN), 0.9)
        self.surname_weights = zipf_weights(len(SURNAMES), 0.8)
        taken: set[str] = set()
        self.companies = [self._company(index, taken) for index in range(companies)]
        self.company_weights = zipf_weights(companies, 0.6)

    def _company(self, index: int, taken: set[str]) -> dict[str, str]:
        pick = self.random.choice
        while True:
            shape = self.random.randrange(3)
            if shape == 0:
                name = f"{pick(COMPANY_WORDS)} {pick(COMPANY_KINDS)}"
            elif shape == 1:
                name = f"{pick(COMPANY_WORDS)} {pick(COMPANY_WORDS)} {pick(COMPANY_KINDS)}"
            else:
                name = f"{pick(COMPANY_WORDS)}{pick(COMPANY_WORDS).lower()} {pick(COMPANY_KINDS)}"
            if len(taken) > 150_000:
                name = f"{name} {index}"  # the word pools run out
            if name not in taken:
                taken.add(name)
                break
        legal = pick(LEGAL_FORMS)
        domain = fold(name).replace(" ", "").replace("'", "") + pick([".com", ".es", ".io", ".co.uk", ".de", ".net"])
        city, region, country = pick(CITIES)
        area = self.random.randrange(200, 990)
        return {
            "name": f"{name} {legal}",
            "bare": name,
            "legal": legal,
            "domain": domain,
            "website": f"https://www.{domain}/",
            "phone": f"+1 {area} 555 {self.random.randrange(1000, 9999)}",
            "city": city,
            "region": region,
            "country": country,
        }

    def pick_company(self) -> dict[str, str]:
        return self.random.choices(self.companies, cum_weights=self.company_weights)[0]

    def person(self, index: int) -> Row:
        rnd = self.random
        given, nickname = rnd.choices(GIVEN, cum_weights=self.given_weights)[0]
        surname = rnd.choices(SURNAMES, cum_weights=self.surname_weights)[0]
        company = self.pick_company()
        past = [self.pick_company()["name"] for _ in range(rnd.choice((0, 0, 1, 1, 2)))]
        local = f"{fold(given)}.{fold(surname)}".replace(" ", "").replace("'", "")
        draw = rnd.random()
        emails: tuple[str, ...] = ()
        if draw < 0.60:
            emails = (f"{local}@{company['domain']}",)
        elif draw < 0.75:
            emails = (f"{local}{rnd.randrange(1, 99)}@{rnd.choice(FREE_MAIL)}",)
        draw = rnd.random()
        phones: tuple[str, ...] = ()
        if draw < 0.35:
            phones = (f"+1 {rnd.randrange(200, 990)} {rnd.randrange(200, 999)} {rnd.randrange(1000, 9999)}",)
        elif draw < 0.60:
            phones = (company["phone"],)
        title = rnd.choice(TITLES)[0]
        slug = f"{fold(given)}-{fold(surname)}".replace(" ", "-").replace("'", "")
        return {
            "id": f"p{index}",
            "first_name": given,
            "last_name": surname,
            "emails": emails,
            "phones": phones,
            "job_title": title,
            "company_name": company["name"],
            "company_website": company["website"],
            "past_companies": tuple(past),
            "profile_url": f"https://www.linkedin.com/in/{slug}-{index:x}" if rnd.random() < 0.6 else None,
            "city": company["city"],
            "region": company["region"],
            "country": company["country"],
            # kept for the contact's noise; dropped before the row becomes a record
            "_nickname": nickname,
            "_company": company,
        }

    def typo(self, word: str) -> str:
        if len(word) < 4:
            return word
        rnd = self.random
        at = rnd.randrange(1, len(word) - 1)
        kind = rnd.randrange(3)
        if kind == 0:
            return word[:at] + word[at + 1 :]  # deletion
        if kind == 1:
            return word[:at] + word[at + 1] + word[at] + word[at + 2 :]  # transposition
        return word[:at] + rnd.choice("aeiourstnl") + word[at + 1 :]  # substitution

    def company_as_crm_writes_it(self, company: dict[str, str]) -> str:
        rnd = self.random
        draw = rnd.random()
        if draw < 0.5:
            return company["name"]
        variant = rnd.choice(LEGAL_VARIANTS[company["legal"]])
        name = f"{company['bare']} {variant}".strip()
        return name.upper() if draw > 0.9 else name

    def contact_of(self, person: Row, contact_id: str) -> Row:
        """The CRM's copy of ``person``, with the noise a CRM accumulates."""
        rnd = self.random
        first, last = person["first_name"], person["last_name"]
        company: dict[str, str] = person["_company"]
        title = person["job_title"]
        emails: tuple[str, ...] = person["emails"]
        phones: tuple[str, ...] = person["phones"]
        if person["_nickname"] and rnd.random() < 0.08:
            first = person["_nickname"]
        if rnd.random() < 0.08:
            if rnd.random() < 0.5:
                last = self.typo(last)
            else:
                first = self.typo(first)
        draw = rnd.random()
        if draw < 0.55:
            first, last = fold(first).title(), fold(last).title()  # accents dropped
        if rnd.random() < 0.05:
            first, last = first.upper(), last.upper()
        if rnd.random() < 0.01:
            first, last = last, first
        company_name = self.company_as_crm_writes_it(company)
        website = f"https://{company['domain']}" if rnd.random() < 0.5 else None
        if person["past_companies"] and rnd.random() < 0.10:
            # Job change: the CRM still holds the previous employer, its e-mail address and the old title.
            company_name = person["past_companies"][-1]
            emails = (f"{fold(first)}.{fold(last)}@{fold(company_name.split()[0])}.com",)
            title = rnd.choice(TITLES)[0]
            website = None
        else:
            titles = next((pair for pair in TITLES if pair[0] == title), (title, title))
            title = titles[1] if rnd.random() < 0.3 else titles[0]
        draw = rnd.random()
        if draw < 0.25:
            emails = ()
        elif draw < 0.28 and emails:
            user, _, domain = emails[0].partition("@")
            emails = (f"{user[:1]}***@{domain}",)
        if rnd.random() < 0.3:
            phones = (company["phone"],)
        return {
            "id": contact_id,
            "first_name": first,
            "last_name": last,
            "emails": emails,
            "phones": phones,
            "job_title": title,
            "company_name": company_name,
            "company_website": website,
            "profile_url": person["profile_url"] if rnd.random() < 0.15 else None,
            "city": company["city"] if rnd.random() < 0.7 else None,
            "country": company["country"] if rnd.random() < 0.8 else None,
        }


def _record_row(row: Row) -> Row:
    return {key: value for key, value in row.items() if not key.startswith("_") and value not in (None, ())}


class PeopleStream:
    """The workspace people of a scale set, generated afresh on each iteration (the same rows every time), so that a
    consumer that keeps less than the records themselves (a matching index) never holds them all at once.

    ``spent_seconds`` adds up the time spent generating across iterations: the benchmark subtracts it from the time
    of the code that consumed the stream."""

    def __init__(self, seed: int, count: int, make: Callable[[Row], Any]) -> None:
        self.seed, self.count, self.make = seed, count, make
        self.spent_seconds = 0.0

    def rows(self) -> Iterator[Row]:
        """The rows with the generator's private keys (for making contacts of them)."""
        generator = _Generator(self.seed, companies=_companies_for(self.count))
        for index in range(self.count):
            yield generator.person(index)

    def __iter__(self) -> Iterator[Any]:
        clock = time.perf_counter
        rows = self.rows()
        while True:
            started = clock()
            try:
                record = self.make(_record_row(next(rows)))
            except StopIteration:
                self.spent_seconds += clock() - started
                return
            self.spent_seconds += clock() - started
            yield record

    def __len__(self) -> int:
        return self.count

    def first(self, count: int) -> list[Any]:
        """The first ``count`` people, made (not counted in ``spent_seconds``)."""
        return [self.make(_record_row(row)) for row in islice(self.rows(), count)]


def _companies_for(people: int) -> int:
    return max(50, people // 25)


def generate(
    contacts: int = 100_000,
    people: int = 1_000_000,
    *,
    seed: int = 13,
    share_in_people: float = 0.7,
    make: Callable[[Row], Any] = _record_row,
    lazy_people: bool = False,
) -> ScaleSet:
    """``people`` workspace people and ``contacts`` CRM contacts, ``share_in_people`` of which are workspace people
    (3 % of those people twice: a CRM duplicate or a lead), the rest new people; with the truth.

    ``make`` turns each row into what the lists hold (``PersonRecord(**row)`` keeps 1,000,000 people in far less
    memory than dicts); it gets rows without the generator's private keys. With ``lazy_people`` the people are a
    :class:`PeopleStream` (generated again on each iteration) rather than a list.
    """
    stream = PeopleStream(seed, people, make)
    rnd = random.Random(seed + 1)
    matched = min(int(contacts * share_in_people), people)
    chosen = set(rnd.sample(range(people), matched))
    kept: list[Row] = []
    workspace = []
    for index, row in enumerate(stream.rows()):
        if index in chosen:
            kept.append(row)
        if not lazy_people:
            workspace.append(make(_record_row(row)))
    rnd.shuffle(kept)
    # The contacts' noise and the strangers come from a generator of their own (same companies, another stream).
    generator = _Generator(seed, companies=_companies_for(people))
    generator.random = random.Random(seed + 2)
    crm: list[Row] = []
    truth: dict[str, str] = {}
    for person in kept:
        for _ in range(2 if rnd.random() < 0.03 else 1):
            if len(crm) >= matched:
                break
            contact_id = f"c{len(crm)}"
            crm.append(generator.contact_of(person, contact_id))
            truth[contact_id] = person["id"]
    stranger = people
    while len(crm) < contacts:
        contact_id = f"c{len(crm)}"
        crm.append(generator.contact_of(generator.person(stranger), contact_id))
        stranger += 1
    rnd.shuffle(crm)
    return ScaleSet(
        people=stream if lazy_people else workspace, contacts=[make(_record_row(row)) for row in crm], truth=truth
    )


def changed(contacts: Sequence[Any], count: int, *, seed: int = 14) -> list[Any]:
    """``count`` contacts as a CRM user edits them between two runs: a new title, phone or city, or the last name
    re-typed in capitals. Same ids, so the truth still holds. Rows (dicts) or records (dataclasses) alike."""
    rnd = random.Random(seed)
    edited = []
    for row in rnd.sample(list(contacts), min(count, len(contacts))):
        draw = rnd.random()
        change: dict[str, Any]
        if draw < 0.4:
            change = {"job_title": rnd.choice(TITLES)[0]}
        elif draw < 0.7:
            change = {"phones": (f"+1 {rnd.randrange(200, 990)} 555 {rnd.randrange(1000, 9999)}",)}
        elif draw < 0.85:
            change = {"city": rnd.choice(CITIES)[0]}
        else:
            last = row.get("last_name") if isinstance(row, dict) else row.last_name
            change = {"last_name": str(last or "").upper()}
        edited.append({**row, **change} if isinstance(row, dict) else dataclasses.replace(row, **change))
    return edited
