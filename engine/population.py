"""A seeded synthetic population for the agency registry simulator.

Nobody here is real (a generated national code passes the check digit and
may happen to be a real person's code; everything attached to it is
invented). Households of people with valid national codes, Persian names,
Jalali and Gregorian birth dates, fathers, spouses and children, and the
facts the catalog's registries hold about them: military service, degrees,
criminal record, insurance history, tax status, licences, bank accounts; and
the things they own or run: addresses with postal codes, deeds with registry
plates, notarial documents, lease contracts, companies with 11-digit national
ids, vehicles with plates and VINs, utility bills, payments.

Everything is a pure function of the seed: the same seed gives the same
population on every machine, so tests and demos can name subjects by index
(:meth:`Population.sample_person`). Dates are relative to a fixed reference
day (:data:`REFERENCE_DAY`), not to today, for the same reason.

Registry facts are plain JSON-shaped dicts because that is what registries
answer with; the simulator (``engine.registries``) picks the fields each
inquiry service returns.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Any

import jdatetime

from engine import identifiers as ids

#: "Today" inside the simulated registries (validity, ages and expiries are relative to it).
REFERENCE_DAY = jdatetime.date(1405, 9, 1)

MALE = ("محمد", "علی", "حسین", "رضا", "مهدی", "امیر", "حسن", "محمدرضا", "سعید", "مجید", "احمد", "مصطفی",
        "ابوالفضل", "جواد", "امیرحسین", "حمید", "علیرضا", "کامران", "بهرام", "داریوش", "سیاوش", "پویا", "آرش")
FEMALE = ("فاطمه", "زهرا", "مریم", "زینب", "معصومه", "سارا", "نرگس", "الهام", "مهسا", "نازنین", "لیلا",
          "سمیه", "فرشته", "پریسا", "شیرین", "آزاده", "نگار", "هانیه", "ریحانه", "سپیده")
LAST = ("محمدی", "حسینی", "احمدی", "رضایی", "موسوی", "کریمی", "جعفری", "رحیمی", "هاشمی", "صادقی", "قاسمی",
        "عباسی", "نوری", "کاظمی", "مرادی", "ابراهیمی", "شریفی", "اکبری", "یوسفی", "طاهری", "زارعی",
        "سلیمانی", "فراهانی", "نیک‌نام", "امینی", "ملکی", "بهرامی", "خسروی", "میرزایی", "پاک‌نژاد")
CITIES = (("تهران", "تهران", 35.69, 51.39), ("اصفهان", "اصفهان", 32.65, 51.67), ("خراسان رضوی", "مشهد", 36.30, 59.60),
          ("فارس", "شیراز", 29.59, 52.58), ("آذربایجان شرقی", "تبریز", 38.08, 46.29),
          ("خوزستان", "اهواز", 31.32, 48.67), ("کرمان", "کرمان", 30.28, 57.08), ("گیلان", "رشت", 37.28, 49.58),
          ("یزد", "یزد", 31.90, 54.37), ("کرمانشاه", "کرمانشاه", 34.31, 47.07))
STREETS = ("خیابان آزادی", "خیابان انقلاب", "خیابان ولیعصر", "بلوار کشاورز", "خیابان شریعتی", "خیابان فردوسی",
           "بلوار جمهوری", "خیابان حافظ", "خیابان سعدی", "خیابان امام خمینی")
ALLEYS = ("کوچه لاله", "کوچه نسترن", "کوچه بهار", "کوچه یاس", "کوچه اقاقیا", "کوچه سرو", "بن‌بست نیلوفر")
UNIVERSITIES = ("دانشگاه تهران", "دانشگاه صنعتی شریف", "دانشگاه اصفهان", "دانشگاه فردوسی مشهد", "دانشگاه شیراز",
                "دانشگاه آزاد اسلامی واحد تهران مرکزی", "دانشگاه پیام نور", "دانشگاه علامه طباطبائی")
FIELDS = ("مهندسی کامپیوتر", "حقوق", "مدیریت بازرگانی", "حسابداری", "پزشکی", "مهندسی عمران", "ادبیات فارسی",
          "روان‌شناسی", "اقتصاد", "علوم تربیتی")
DEGREES = ("کاردانی", "کارشناسی", "کارشناسی ارشد", "دکتری")
DIPLOMAS = ("ریاضی و فیزیک", "علوم تجربی", "ادبیات و علوم انسانی", "فنی و حرفه‌ای")
VEHICLES = (("ایران‌خودرو", "پژو ۲۰۶"), ("ایران‌خودرو", "سمند"), ("ایران‌خودرو", "دنا"), ("سایپا", "پراید ۱۳۱"),
            ("سایپا", "تیبا"), ("سایپا", "کوییک"), ("پارس‌خودرو", "ساینا"))
COLOURS = ("سفید", "مشکی", "نقره‌ای", "خاکستری", "آبی")
INSURERS = ("بیمه ایران", "بیمه آسیا", "بیمه البرز", "بیمه دانا", "بیمه پارسیان", "بیمه کوثر")
AGENCIES = ("وزارت آموزش و پرورش", "وزارت بهداشت، درمان و آموزش پزشکی", "وزارت راه و شهرسازی",
            "وزارت امور اقتصادی و دارایی", "سازمان ثبت اسناد و املاک کشور")
GUILDS = ("نانوایی", "سوپرمارکت", "آرایشگاه", "تعمیرگاه خودرو", "فروشگاه پوشاک", "رستوران")
COMPANY_WORDS = ("پارس", "آریا", "نوین", "سپهر", "البرز", "کیان", "مهر", "فناوران", "صنعت", "تجارت")
NATIONS = ("افغانستان", "عراق", "پاکستان", "ترکیه")


def _jdate(rng: random.Random, year: int) -> jdatetime.date:
    # Day 1..29 exists in every Jalali month, so no date is ever invalid.
    return jdatetime.date(year, rng.randint(1, 12), rng.randint(1, 29))


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _jstr(d: jdatetime.date) -> str:
    return ids.format_jalali(d)


@dataclass(frozen=True)
class Person:
    """One synthetic person: identity as the civil registry holds it, plus registry facts.

    ``facts`` maps a registry name (``military``, ``education``, ``tax`` ...)
    to the JSON-shaped record that registry holds; absent key = no record.
    """

    index: int
    national_code: str
    first_name: str
    last_name: str
    father_name: str
    gender: str  # "male" | "female"
    birth_date: jdatetime.date
    alive: bool
    death_date: jdatetime.date | None
    household: int
    postal_code: str
    mobile: str | None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def birth_date_jalali(self) -> str:
        """Birth date as ``YYYY/MM/DD`` (Jalali, ASCII digits)."""
        return _jstr(self.birth_date)

    @property
    def birth_date_gregorian(self) -> str:
        """Birth date as an ISO Gregorian date."""
        return self.birth_date.togregorian().isoformat()

    @property
    def age(self) -> int:
        """Whole years at :data:`REFERENCE_DAY`."""
        b = self.birth_date
        return REFERENCE_DAY.year - b.year - ((REFERENCE_DAY.month, REFERENCE_DAY.day) < (b.month, b.day))

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"


class Population:
    """Everyone and everything of one seed, with indexes for each registry's key.

    Build with :func:`population`; the instance is shared and must be treated
    as read-only.
    """

    def __init__(self, seed: int, households: int) -> None:
        self.seed = seed
        self.persons: list[Person] = []
        self.by_code: dict[str, Person] = {}
        self.addresses: dict[str, dict[str, Any]] = {}
        self.deeds: list[dict[str, Any]] = []
        self.notarial: dict[str, dict[str, Any]] = {}
        self.contracts: dict[str, dict[str, Any]] = {}
        self.companies: dict[str, dict[str, Any]] = {}
        self.vehicles: dict[str, dict[str, Any]] = {}
        self.foreigners: dict[str, dict[str, Any]] = {}
        self.bills: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.judgments: dict[str, dict[str, Any]] = {}
        self.workshops: dict[str, dict[str, Any]] = {}
        # Secondary keys (degree codes, licence numbers ...) -> (kind, owner key, record).
        self.keys: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self._taken: set[str] = set()
        for h in range(households):
            self._household(h, random.Random(f"{seed}:household:{h}"))
        rng = random.Random(f"{seed}:others")
        adults = [p for p in self.persons if p.alive and p.age >= 25]
        for _ in range(max(3, households // 5)):
            self._company(rng, adults)
        for _ in range(max(3, households // 20)):
            self._foreigner(rng)

    # --- public look-ups -----------------------------------------------------------

    def lookup_person(self, national_code: str) -> Person | None:
        """The person with this national code (Persian digits accepted), if any."""
        code = ids.normalize_national_code(national_code)
        return self.by_code.get(code) if code else None

    def sample_person(self, index: int = 0, **criteria: Any) -> Person:
        """The ``index``-th living adult matching ``criteria`` (stable per seed).

        ``criteria`` are ``gender="male"`` or a registry name with ``True``
        (``vehicle=True``, ``degrees=True``: the person has that record).
        """
        found = [p for p in self.persons if p.alive and p.age >= 18 and all(
            (getattr(p, k) == v) if k == "gender" else (bool(p.facts.get(k)) == v) for k, v in criteria.items())]
        if not found:
            raise LookupError(f"no person matches {criteria}")
        return found[index % len(found)]

    def secondary(self, kind: str, key: str) -> dict[str, Any] | None:
        """A record found by a secondary key (``degree``, ``licence``, ``guild`` ...)."""
        hit = self.keys.get((kind, key))
        return hit[1] if hit else None

    def unused_national_code(self, index: int = 0) -> str:
        """A valid national code that belongs to nobody in this population."""
        rng = random.Random(f"{self.seed}:unused:{index}")
        while True:
            code = ids.generate_national_code(rng)
            if code not in self.by_code:
                return code

    # --- generation ------------------------------------------------------------------

    def _unique(self, make: Any) -> str:
        while True:
            value = make()
            if value not in self._taken:
                self._taken.add(value)
                return value

    def _household(self, h: int, rng: random.Random) -> None:
        province, city, lat, lon = rng.choice(CITIES)
        postal = self._unique(lambda: ids.generate_postal_code(rng))
        owner = rng.random() < 0.6
        self.addresses[postal] = {
            "postal_code": postal, "province": province, "city": city, "street": rng.choice(STREETS),
            "alley": rng.choice(ALLEYS), "plaque": str(rng.randint(1, 250)), "unit": str(rng.randint(1, 12)),
            "geo_location": {"lat": round(lat + rng.uniform(-0.05, 0.05), 5),
                             "lon": round(lon + rng.uniform(-0.05, 0.05), 5)},
            "tenure": "owner" if owner else "tenant", "household": h,
        }
        last = rng.choice(LAST)
        head_gender = "male" if rng.random() < 0.85 else "female"
        head = self._person(rng, h, postal, head_gender, rng.randint(25, 75), last)
        marital = rng.choices(("married", "single", "divorced", "widowed"), (70, 15, 8, 7))[0]
        members = [head]
        spouse = None
        if marital == "married":
            spouse = self._person(rng, h, postal, "female" if head_gender == "male" else "male",
                                  max(20, head.age + rng.randint(-8, 3)), rng.choice(LAST))
            members.append(spouse)
        children: list[Person] = []
        if marital != "single":
            father = head if head_gender == "male" else spouse
            for _ in range(rng.randint(0, 3)):
                child = self._person(rng, h, postal, rng.choice(("male", "female")),
                                     rng.randint(1, max(1, min(head.age, spouse.age if spouse else 99) - 20)),
                                     father.last_name if father else last,
                                     father=father)
                children.append(child)
        married_on = _jdate(rng, REFERENCE_DAY.year - min(head.age - 19, 30)) if marital != "single" else None
        for p in members:
            other = spouse if p is head else head
            p.facts["family"] = {
                "marital_status": marital if p is head or marital != "married" else "married",
                "spouse_national_code": other.national_code if (spouse and other) else None,
                "event_dates": {"marriage": _jstr(married_on) if married_on else None,
                                "divorce": _jstr(_jdate(rng, REFERENCE_DAY.year - 2)) if marital == "divorced"
                                else None},
                "children": [c.national_code for c in children],
            }
        for c in children:
            c.facts["family"] = {"marital_status": "single", "spouse_national_code": None,
                                 "event_dates": {}, "children": []}
        if owner:
            self._deed(rng, postal, head, spouse, city)
        else:
            self._lease(rng, postal, head, city)
        for kind, prefix in (("water", "1"), ("power", "2"), ("gas", "3")):
            bill_id = self._unique(lambda p=prefix: p + _digits(rng, 12))
            self.bills[bill_id] = {"bill_id": bill_id, "kind": kind, "bill_amount": rng.randint(5, 300) * 10_000,
                                   "address": self.address_text(postal), "postal_code": postal}
        pay_id = self._unique(lambda: _digits(rng, 20))
        self.payments[pay_id] = {"paid": rng.random() < 0.9, "amount": rng.randint(1, 50) * 100_000,
                                 "trace_no": _digits(rng, 12), "payer": head.national_code}

    def address_text(self, postal: str) -> str:
        """The address of a postal code as one Persian line."""
        a = self.addresses[postal]
        return f"{a['province']}، {a['city']}، {a['street']}، {a['alley']}، پلاک {a['plaque']}، واحد {a['unit']}"

    def _person(self, rng: random.Random, h: int, postal: str, gender: str, age: int, last: str,
                father: Person | None = None) -> Person:
        code = self._unique(lambda: ids.generate_national_code(rng))
        born = _jdate(rng, REFERENCE_DAY.year - age)
        alive = not (father is None and rng.random() < 0.02)
        person = Person(
            index=len(self.persons), national_code=code,
            first_name=rng.choice(MALE if gender == "male" else FEMALE), last_name=last,
            father_name=father.first_name if father else rng.choice(MALE), gender=gender, birth_date=born,
            alive=alive, death_date=None if alive else _jdate(rng, REFERENCE_DAY.year - 1), household=h,
            postal_code=postal, mobile=ids.generate_mobile(rng) if age >= 16 else None, facts={})
        self.persons.append(person)
        self.by_code[code] = person
        self._civil(rng, person, father)
        if person.age >= 18:
            self._adult_facts(rng, person)
        return person

    def _civil(self, rng: random.Random, p: Person, father: Person | None) -> None:
        f = p.facts
        # People born after 1368 have the national code as birth-certificate number.
        no = p.national_code if p.birth_date.year >= 1368 else str(rng.randint(1, 9999))
        f["civil"] = {"shenasnameh_no_serial": f"{no} - {rng.choice('الفبجدهو')}/{rng.randint(10, 99)} "
                                               f"{rng.randint(100000, 999999)}",
                      "father_national_code": father.national_code if father else None}
        f["card"] = {"national_card_serial": f"{rng.randint(0, 9)}{rng.choice('ABCDEFGHJK')}{_digits(rng, 8)}",
                     "card_expiry": _jstr(_jdate(rng, REFERENCE_DAY.year + rng.choice((-1, 2, 4, 6))))}

    def _adult_facts(self, rng: random.Random, p: Person) -> None:
        f = p.facts
        ref = REFERENCE_DAY.year
        if p.gender == "male":
            status = rng.choices(("served", "exempt", "absent", "in_service", "student_deferral"), (55, 25, 5, 8, 7))[0]
            if p.age > 50:
                status = rng.choice(("served", "exempt"))
            f["military"] = {"status": status, "exemption_type": rng.choice(("کفالت", "پزشکی", "تک‌پسر"))
                             if status == "exempt" else None,
                             "card_serial": _digits(rng, 10) if status in ("served", "exempt") else None}
        f["education"] = {
            "diploma": {"diploma": "دیپلم متوسطه", "field": rng.choice(DIPLOMAS), "graduation_year": ref - p.age + 18}
            if rng.random() < 0.85 else None,
            "grades": {"gpa": round(rng.uniform(12, 20), 2)},
            "enrolled": p.age < 30 and rng.random() < 0.3, "degrees": []}
        if f["education"]["diploma"] and rng.random() < 0.5:
            for level in DEGREES[: rng.randint(1, 3)]:
                code = self._unique(lambda: _digits(rng, 20))
                deg = {"degree": level, "field": rng.choice(FIELDS), "institution": rng.choice(UNIVERSITIES),
                       "graduation_date": _jstr(_jdate(rng, min(ref - 1, ref - p.age + 22 + 2 * DEGREES.index(level)))),
                       "verification_code": code, "holder": p.national_code}
                f["education"]["degrees"].append(deg)
                self.keys[("degree", code)] = ("person", deg)
        # Shortcuts so sample_person(degrees=True) / (diploma=True) can pick holders.
        f["degrees"] = f["education"]["degrees"]
        f["diploma"] = f["education"]["diploma"]
        f["criminal"] = {"has_effective_record": rng.random() < 0.03, "tracking_no": _digits(rng, 16)}
        f["sana"] = {"registered": rng.random() < 0.7}
        if rng.random() < 0.4:
            f["passport"] = {"passport_no": rng.choice("ABKP") + _digits(rng, 8),
                             "validity": _jstr(_jdate(rng, ref + rng.choice((-2, 1, 3, 5)))),
                             "exit_ban": rng.random() < 0.03}
        if rng.random() < 0.6:
            no = self._unique(lambda: _digits(rng, 10))
            f["licence"] = {"licence_no": no, "licence_class": rng.choice(("پایه یکم", "پایه دوم", "پایه سوم")),
                            "validity": _jstr(_jdate(rng, ref + rng.choice((-1, 2, 5, 8)))),
                            "penalty_points": rng.choice((0, 0, 0, 5, 10, 20, 30))}
            self.keys[("licence", no)] = ("person", f["licence"])
        if rng.random() < 0.35:
            self._vehicle(rng, p)
        if rng.random() < 0.55:
            ins_no = self._unique(lambda: _digits(rng, 10))
            periods = []
            for _ in range(rng.randint(1, 3)):
                start = ref - rng.randint(1, max(2, p.age - 18))
                days = rng.randint(60, 365 * max(1, min(6, ref - start)))
                periods.append({"workshop_code": _digits(rng, 10),
                                "workshop_name": f"کارگاه {rng.choice(COMPANY_WORDS)}", "from": f"{start}/01/01",
                                "days": days, "wages": rng.randint(8, 60) * 1_000_000})
            f["tamin"] = {"insurance_no": ins_no, "insured_periods_by_workshop": periods,
                          "days": sum(x["days"] for x in periods),
                          "wages": periods[-1]["wages"], "workshop_codes": [x["workshop_code"] for x in periods]}
        f["health"] = {"covered": rng.random() < 0.92, "insurer": rng.choice(("بیمه سلامت", "تأمین اجتماعی",
                                                                              "نیروهای مسلح")),
                       "fit": rng.random() < 0.95}
        if rng.random() < 0.15:
            f["pakna"] = {"employment_status": rng.choice(("رسمی", "پیمانی", "قراردادی")),
                          "employing_agency": rng.choice(AGENCIES),
                          "hr_decree_data": {"decree_no": _digits(rng, 8), "grade": rng.randint(1, 12),
                                             "salary": rng.randint(150, 600) * 100_000}}
        if p.age >= 60 and rng.random() < 0.7:
            f["pension"] = {"pensioner": True, "pension_type": rng.choice(("کشوری", "تأمین اجتماعی", "لشکری")),
                            "amount": rng.randint(100, 400) * 100_000}
        decile = rng.randint(1, 10)
        f["welfare"] = {"covered": decile <= 2 and rng.random() < 0.6, "decile": decile,
                        "disability_type": rng.choice(("حرکتی", "بینایی", "شنوایی")) if rng.random() < 0.03 else None}
        if rng.random() < 0.04:
            f["isargar"] = {"status_type": rng.choice(("جانباز", "آزاده", "خانواده شهید", "رزمنده")),
                            "percentage": rng.choice((None, 5, 15, 25, 50))}
        registered = rng.random() < 0.3
        f["tax"] = {"registered": registered, "economic_code": _digits(rng, 12) if registered else None,
                    "tax_file_status": rng.choice(("active", "closed")) if registered else None,
                    "clearance": rng.random() < 0.9, "debt_amount": 0}
        if not f["tax"]["clearance"]:
            f["tax"]["debt_amount"] = rng.randint(1, 200) * 1_000_000
        if rng.random() < 0.9:
            f["bank"] = {"iban": ids.generate_iban(rng), "card": ids.generate_card_number(rng)}
            f["cheque"] = {"colour_rating": rng.choices(("white", "yellow", "orange", "brown", "red"),
                                                        (85, 6, 4, 3, 2))[0],
                           "bounced_count": 0, "sayad_ids": [_digits(rng, 16) for _ in range(rng.randint(0, 2))]}
            f["cheque"]["bounced_count"] = {"white": 0, "yellow": 1, "orange": 3, "brown": 6, "red": 11}[
                f["cheque"]["colour_rating"]]
            for sid in f["cheque"]["sayad_ids"]:
                self.keys[("sayad", sid)] = ("person", {"owner": p.national_code})
        if rng.random() < 0.15:
            no = self._unique(lambda: _digits(rng, 12))
            f["tvto"] = {"certificates": [{"certificate_no": no, "title": rng.choice(("برق‌کار ساختمان",
                                                                                      "ICDL", "جوشکاری"))}]}
            self.keys[("tvto", no)] = ("person", f["tvto"])
        if rng.random() < 0.05:
            no = self._unique(lambda: _digits(rng, 7))
            f["professional"] = {"membership_no": no, "licence_valid": rng.random() < 0.9,
                                 "grade": rng.choice(("پایه ۱", "پایه ۲", "پایه ۳"))}
            self.keys[("membership", no)] = ("person", f["professional"])
        if rng.random() < 0.08:
            gid = self._unique(lambda: _digits(rng, 14))
            f["guild"] = {"guild_id": gid, "licence_valid": rng.random() < 0.85, "guild_category": rng.choice(GUILDS),
                          "address": self.address_text(p.postal_code),
                          "expiry": _jstr(_jdate(rng, ref + rng.choice((-1, 1, 2, 4))))}
            self.keys[("guild", gid)] = ("person", f["guild"])
            self._permit(rng, p.national_code, f["guild"]["guild_category"])
        if rng.random() < 0.05:
            case = self._unique(lambda: _digits(rng, 16))
            self.judgments[case] = {"case_or_judgment_no": case, "national_code": p.national_code,
                                    "judgment_summary": rng.choice(("محکومیت به پرداخت وجه", "رد دعوا",
                                                                    "الزام به تنظیم سند")),
                                    "finality": rng.choice(("قطعی", "غیرقطعی"))}
        f["amaken"] = {"cleared": not f["criminal"]["has_effective_record"]}

    def _vehicle(self, rng: random.Random, p: Person) -> None:
        plate = self._unique(lambda: ids.generate_plate(rng))
        make, model = rng.choice(VEHICLES)
        policy = self._unique(lambda: _digits(rng, 12))
        v: dict[str, Any] = {"plate": plate, "vin": ids.generate_vin(rng), "owner": p.national_code,
             "vehicle_spec": {"make": make, "model": model, "year": rng.randint(1385, REFERENCE_DAY.year),
                              "colour": rng.choice(COLOURS)},
             "card_and_document_status": {"card": rng.choice(("صادر شده", "در حال صدور")), "document": "دارد"},
             "plate_history": [{"plate": ids.format_plate(plate), "from": f"{rng.randint(1390, 1404)}/01/01"}],
             "unpaid_fines_amount": rng.choice((0, 0, 0, 250_000, 1_200_000, 4_500_000)),
             "tolls_paid": rng.random() < 0.85,
             "tpl": {"policy_no": policy, "insurer": rng.choice(INSURERS),
                     "expiry": _jstr(_jdate(rng, REFERENCE_DAY.year + rng.choice((-1, 0, 1))))},
             "transfer_tax_paid": rng.random() < 0.9}
        v["tpl"]["policy_valid"] = ids.parse_jalali(v["tpl"]["expiry"]) > REFERENCE_DAY
        self.vehicles[plate] = v
        self.keys[("vin", v["vin"])] = ("vehicle", v)
        self.keys[("policy", policy)] = ("vehicle", v)
        p.facts["vehicle"] = v

    def _deed(self, rng: random.Random, postal: str, head: Person, spouse: Person | None, city: str) -> None:
        main, sub, section = rng.randint(10, 9999), rng.randint(1, 999), rng.randint(1, 15)
        owners = [{"national_code": head.national_code, "share": "۶ دانگ"}]
        if spouse and rng.random() < 0.3:
            owners = [{"national_code": head.national_code, "share": "۳ دانگ"},
                      {"national_code": spouse.national_code, "share": "۳ دانگ"}]
        serial = self._unique(lambda: _digits(rng, 6))
        book = self._unique(lambda: _digits(rng, 12))
        file_no = self._unique(lambda: _digits(rng, 8))
        deed: dict[str, Any] = {
            "registry_plate_main_sub": f"{sub} فرعی از {main} اصلی – بخش {section} {city}", "main": main, "sub": sub,
            "registry_section": f"بخش {section} {city}", "section": section,
            "deed_serial_or_unique_id": serial, "electronic_property_book_no": book, "postal_code": postal,
            "owners_and_shares": owners, "area": round(rng.uniform(45, 400), 1),
            "encumbrances_mortgage_seizure": {"mortgage": rng.random() < 0.2, "seizure": rng.random() < 0.03},
            "deed_status": rng.choices(("active", "single_sheet", "cancelled"), (60, 38, 2))[0],
            "municipal_file_no": file_no,
            "municipal": {"completion_certificate": rng.random() < 0.8, "violations": rng.choice(([], [],
                          ["اضافه بنا"], ["تغییر کاربری"])), "fees_due": rng.choice((0, 0, 1_500_000, 8_000_000)),
                          "zoning": rng.choice(("مسکونی", "تجاری", "مختلط"))},
            "transfer_tax_paid": rng.random() < 0.9,
        }
        self.deeds.append(deed)
        self.keys[("deed_serial", serial)] = ("deed", deed)
        self.keys[("book", book)] = ("deed", deed)
        self.keys[("plate", f"{main}/{sub}")] = ("deed", deed)
        self.keys[("municipal_file", file_no)] = ("deed", deed)
        for o in owners:
            self.by_code[o["national_code"]].facts.setdefault("deeds", []).append(deed)
        self._notarial(rng, "سند قطعی انتقال", [head.national_code], deed["registry_plate_main_sub"])

    def _notarial(self, rng: random.Random, kind: str, parties: list[str], subject: str) -> None:
        uid = self._unique(lambda: _digits(rng, 18))
        self.notarial[uid] = {"document_unique_id": uid, "verification_code": _digits(rng, 6), "document_type": kind,
                              "parties": parties, "subject": subject,
                              "date": _jstr(_jdate(rng, REFERENCE_DAY.year - rng.randint(0, 15))),
                              "status": rng.choices(("valid", "revoked"), (95, 5))[0]}

    def _lease(self, rng: random.Random, postal: str, tenant: Person, city: str) -> None:
        code = self._unique(lambda: _digits(rng, 12))
        landlord = rng.choice(self.persons[:-1]).national_code if len(self.persons) > 1 else None
        start = _jdate(rng, REFERENCE_DAY.year - rng.randint(0, 1))
        self.contracts[code] = {
            "tracking_code": code, "parties": [x for x in (landlord, tenant.national_code) if x],
            "property": {"postal_code": postal, "address": self.address_text(postal), "city": city},
            "term": {"from": _jstr(start), "to": _jstr(jdatetime.date(start.year + 1, start.month, start.day))},
            "status": rng.choices(("registered", "terminated"), (90, 10))[0], "kind": "اجاره"}
        tenant.facts["lease"] = self.contracts[code]

    def _permit(self, rng: random.Random, holder: str, title: str) -> None:
        no = self._unique(lambda: _digits(rng, 10))
        self.keys[("permit", no)] = ("holder", {"permit_no": no, "holder": holder, "title": title,
                                                "permit_valid": rng.random() < 0.9,
                                                "expiry": _jstr(_jdate(rng, REFERENCE_DAY.year + 2))})

    def _company(self, rng: random.Random, adults: list[Person]) -> None:
        lid = self._unique(lambda: ids.generate_legal_id(rng))
        board = rng.sample(adults, k=min(3, len(adults)))
        postal = rng.choice(list(self.addresses))
        workshop = self._unique(lambda: _digits(rng, 10))
        reg_no = str(rng.randint(1000, 999999))
        company = {
            "legal_entity_national_id": lid,
            "name": f"شرکت {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)} "
                    f"({rng.choice(('سهامی خاص', 'با مسئولیت محدود', 'سهامی عام'))})",
            "registration_no_date": {"registration_no": reg_no,
                                     "date": _jstr(_jdate(rng, REFERENCE_DAY.year - rng.randint(1, 30))),
                                     "office": f"اداره ثبت شرکت‌ها و مؤسسات غیرتجاری {self.addresses[postal]['city']}"},
            "status": rng.choices(("active", "dissolved", "liquidating"), (90, 6, 4))[0],
            "address_postal_code": {"address": self.address_text(postal), "postal_code": postal},
            "board_members": [{"national_code": p.national_code, "name": p.full_name, "role": role}
                              for p, role in zip(board, ("مدیرعامل", "رئیس هیئت‌مدیره", "عضو هیئت‌مدیره"),
                                                 strict=False)],
            "signatories": [board[0].national_code] if board else [],
            "gazette_notices": [{"date": _jstr(_jdate(rng, REFERENCE_DAY.year - rng.randint(0, 5))),
                                 "title": rng.choice(("تغییرات هیئت‌مدیره", "افزایش سرمایه", "تغییر نشانی"))}],
            "workshop_code": workshop,
            "tax": {"registered": True, "economic_code": lid, "tax_file_status": "active",
                    "clearance": rng.random() < 0.85, "debt_amount": 0},
            "sana": {"registered": rng.random() < 0.9},
            "cheque": {"colour_rating": rng.choice(("white", "white", "yellow")), "bounced_count": 0},
        }
        self.companies[lid] = company
        self.workshops[workshop] = {"no_debt": rng.random() < 0.85, "employer": lid}
        if rng.random() < 0.3:
            card = self._unique(lambda: _digits(rng, 11))
            self.keys[("iccima", card)] = ("holder", {"card_no": card, "holder": lid,
                                                      "card_valid": rng.random() < 0.9,
                                                      "expiry": _jstr(_jdate(rng, REFERENCE_DAY.year + 1))})
        self._permit(rng, lid, "پروانه بهره‌برداری")

    def _foreigner(self, rng: random.Random) -> None:
        fida = self._unique(lambda: _digits(rng, 12))
        self.foreigners[fida] = {"fida_code": fida, "nationality": rng.choice(NATIONS),
                                 "residence_status": rng.choice(("اقامت معتبر", "کارت آمایش", "مجوز کار")),
                                 "validity": _jstr(_jdate(rng, REFERENCE_DAY.year + rng.choice((-1, 1))))}


def population(seed: int = 1405, households: int = 300) -> Population:
    """The population of ``seed`` (cached: building one takes a few hundred milliseconds)."""
    return _cached(seed, households)


@functools.lru_cache(maxsize=4)
def _cached(seed: int, households: int) -> Population:
    return Population(seed, households)


def lookup_person(national_code: str, seed: int = 1405) -> Person | None:
    """The person of the default-size population of ``seed`` with this national code, if any."""
    return population(seed).lookup_person(national_code)


def sample_person(index: int = 0, seed: int = 1405, **criteria: Any) -> Person:
    """A valid living adult subject for tests and demos (see :meth:`Population.sample_person`)."""
    return population(seed).sample_person(index, **criteria)
