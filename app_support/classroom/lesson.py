"""The rules of a class (no streamlit): codes, the teacher's secret, who may do what, how often, how long.

A class is found by its code, eight characters a student can type from the projector ("K7WD-M3QX": no 0/O,
1/I/L lookalikes, case and the dash ignored): 31^8 ≈ 8.5 × 10^11 codes. A wrong code costs a try: at most
WRONG_CODES_PER_MINUTE per session and WRONG_CODES_PER_SECOND for the whole server, so guessing one of 1,000
live classes would take about 8.5 × 10^11 / 1,000 / 20 per second ≈ 1.3 years for one app process. A code only
lets a page follow the class, answer and send sentences; leading needs the teacher's secret, 144 random bits
in the teacher link (`teach=`), kept as a SHA-256 hash and compared in constant time. Nothing in the student
link leads to it. A class expires CLASS_HOURS after it starts (default 4) or when the teacher ends it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from app_support.classroom.store import ClassState, Store, open_store

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a projector without a doubt
CODE_LENGTH = 8
NEW = "new"  # `class=new` in the URL: start a class
SECRET = re.compile(r"[A-Za-z0-9_-]{16,64}")
STUDENT = re.compile(r"[0-9a-f]{20}")  # student_id's
CLASS_HOURS = float(os.environ.get("CLASS_HOURS", "4"))
FOLLOWING_WITHIN = 15.0  # seconds: a student page seen this recently counts as open (it reports every 5 s)
REPORT_EVERY = 5.0  # seconds between a student page's reports (presence)

WRONG_CODES_PER_MINUTE = 10  # per session
WRONG_CODES_PER_SECOND = 20  # per server (one store)
ANSWERS_PER_MINUTE = 20  # per student: one counts per question; more are a script
SENTENCES_PER_MINUTE = 3  # per student
SENTENCES_PER_CLASS = 200
SENTENCE_CHARS = 300
NICKNAME_CHARS = 24


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    """A code as the page writes it: two groups of four, "K7WD-M3QX"."""
    return f"{code[:4]}-{code[4:]}"


def read_code(raw: str) -> str | None:
    """What a person typed or a URL holds -> a well-formed code (or NEW), else None."""
    raw = raw.strip()
    if raw.lower() == NEW:
        return NEW
    code = re.sub(r"[\s-]", "", raw).upper()
    ok = len(code) == CODE_LENGTH and all(c in ALPHABET for c in code)
    return code if ok else None


def read_secret(raw: str) -> str | None:
    raw = raw.strip()
    return raw if SECRET.fullmatch(raw) else None


def read_student(raw: str) -> str | None:
    raw = raw.strip()
    return raw if STUDENT.fullmatch(raw) else None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def student_id(code: str, cookie: str | None) -> str:
    """Who answers: the browser's own cookie (Streamlit's XSRF token, the same in every tab, so a second tab does
    not buy a second answer) hashed with the class code, or a random id without one. The page then keeps it in
    its URL (`me`), so a reload or a server restart keeps it too, whatever becomes of the cookie."""
    if cookie:
        return hashlib.sha256(f"{code}\x1f{cookie}".encode()).hexdigest()[:20]
    return secrets.token_hex(10)


def clean_nickname(raw: str) -> str:
    return " ".join(raw.split())[:NICKNAME_CHARS]


@dataclass(frozen=True)
class Seat:
    """One page in a class: the class as it was read this run, and whether this page leads it."""

    code: str
    teacher: bool
    state: ClassState


class Lesson:
    """The rules on top of a Store. `clock` is time.time (tests move it)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    def start(self) -> tuple[str, str]:
        """A new class: (code, the teacher's secret). The secret is shown once, in the teacher link."""
        now = self.clock()
        self.store.purge(now)
        secret = secrets.token_urlsafe(18)  # 144 bits
        while not self.store.create(code := new_code(), secret_hash(secret), now, now + CLASS_HOURS * 3600):
            pass  # a taken code: draw again
        return code, secret

    def find(self, code: str, session: str) -> tuple[ClassState | None, str | None]:
        """The class with this code, or (None, why not). Wrong codes are rate-limited (see the module)."""
        now = self.clock()
        state = self.store.get(code, now)
        if state is not None:
            return state, None
        mine = self.store.hit(f"wrong:{session}", 60, now)
        everyone = self.store.hit("wrong:*", 1, now)
        if mine > WRONG_CODES_PER_MINUTE or everyone > WRONG_CODES_PER_SECOND:
            return None, "Too many class codes tried from here: wait a minute and try again."
        return None, (
            f"There is no class {shown(code)} (or it has ended: a class lasts {CLASS_HOURS:g} hours). Check the "
            "code with your teacher."
        )

    def seat(self, state: ClassState, secret: str | None) -> Seat:
        """This page's seat; the teacher's only with the class's secret (compared in constant time)."""
        given = secret_hash(secret) if secret else ""
        return Seat(state.code, bool(secret) and hmac.compare_digest(given, state.secret_hash), state)

    def state(self, code: str) -> ClassState | None:
        return self.store.get(code, self.clock())

    # --- the teacher -------------------------------------------------------------------------------------

    def _lead(self, seat: Seat) -> None:
        if not seat.teacher:
            raise PermissionError("only the teacher leads the class")

    def push(self, seat: Seat, query: dict[str, str], ask: bool = False) -> int:
        self._lead(seat)
        return self.store.push(seat.code, query, ask)

    def reveal(self, seat: Seat, question: int) -> bool:
        self._lead(seat)
        return self.store.reveal(seat.code, question)

    def dismiss(self, seat: Seat, sentence_id: int) -> None:
        self._lead(seat)
        self.store.dismiss(seat.code, sentence_id)

    def end(self, seat: Seat) -> None:
        self._lead(seat)
        self.store.end(seat.code, self.clock())

    def presence(self, code: str) -> tuple[int, int]:
        """(following, exploring) student pages open now."""
        return self.store.presence(code, self.clock() - FOLLOWING_WITHIN)

    # --- a student -----------------------------------------------------------------------------------------

    def answer(self, seat: Seat, question: int, student: str, choice: int) -> str:
        """store.COUNTED / AGAIN / LATE / CLOSED, or "limited" past ANSWERS_PER_MINUTE."""
        now = self.clock()
        if self.store.hit(f"answer:{seat.code}:{student}", 60, now) > ANSWERS_PER_MINUTE:
            return "limited"
        return self.store.answer(seat.code, question, student, choice, now)

    def send(self, seat: Seat, student: str, nickname: str, text: str) -> str | None:
        """A sentence for the teacher; None when sent, else why not."""
        text = text.strip()
        if not text:
            return "Type a sentence first."
        if len(text) > SENTENCE_CHARS:
            return (
                f"A sentence for the class is at most {SENTENCE_CHARS} characters (this one has {len(text)})."
            )
        now = self.clock()
        if self.store.hit(f"send:{seat.code}:{student}", 60, now) > SENTENCES_PER_MINUTE:
            return f"At most {SENTENCES_PER_MINUTE} sentences a minute: wait a moment."
        if (
            self.store.hit(f"send:{seat.code}", int(CLASS_HOURS * 3600) + 1, seat.state.created)
            > SENTENCES_PER_CLASS
        ):
            return f"This class has {SENTENCES_PER_CLASS} sentences already: the teacher's list is full."
        self.store.send(seat.code, student, clean_nickname(nickname), text, now)
        return None

    def report(self, code: str, student: str, following: bool) -> None:
        self.store.seen(code, student, following, self.clock())


_LESSONS: dict[str, Lesson] = {}


def lesson() -> Lesson:
    """The server's lesson on the store CLASS_STORE names (SQLite under data/ by default), opened once per
    store (a test names its own)."""
    url = os.environ.get("CLASS_STORE", "")
    if url not in _LESSONS:
        _LESSONS[url] = Lesson(open_store(url))
    return _LESSONS[url]
