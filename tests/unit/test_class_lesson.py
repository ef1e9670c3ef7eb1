"""Class mode's rules (app_support.classroom.lesson) on a real SQLite store and a clock the tests move: codes,
the teacher's secret, who may lead, rate limits and expiry."""

from __future__ import annotations

import pytest

from app_support.classroom import lesson as rules
from app_support.classroom.store import COUNTED, LATE, open_store


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lesson(tmp_path, clock) -> rules.Lesson:
    return rules.Lesson(open_store(f"sqlite:///{tmp_path}/c.sqlite3"), clock)


def test_codes_are_easy_to_read_and_typed_any_way():
    codes = {rules.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 8 and set(c) <= set(rules.ALPHABET) for c in codes)
    assert not set("01OIL") & set(rules.ALPHABET)
    assert rules.read_code(" k7wd-m3qx ") == "K7WDM3QX"
    assert rules.read_code("K7WD M3QX") == "K7WDM3QX"
    assert rules.read_code("NEW") == rules.NEW
    for bad in ("K7WD-M3Q", "K7WD-M3QXX", "K7WD-M3Q0", "<script>", ""):
        assert rules.read_code(bad) is None
    assert rules.shown("K7WDM3QX") == "K7WD-M3QX"


def test_only_the_secret_of_the_class_leads_it(lesson):
    code, secret = lesson.start()
    state = lesson.state(code)
    assert secret not in state.secret_hash and len(secret) >= 24  # 18 random bytes, kept hashed
    assert lesson.seat(state, secret).teacher
    other_code, other_secret = lesson.start()
    assert other_code != code
    for wrong in (None, "", other_secret, secret[:-1] + ("A" if secret[-1] != "A" else "B"), code):
        assert not lesson.seat(state, wrong).teacher
    student = lesson.seat(state, None)
    with pytest.raises(PermissionError):
        lesson.push(student, {"view": "io"})
    with pytest.raises(PermissionError):
        lesson.reveal(student, 1)
    with pytest.raises(PermissionError):
        lesson.end(student)
    assert lesson.state(code).version == 0  # nothing a student tried went through


def test_a_student_is_the_same_in_every_tab_of_a_browser_and_another_in_another_class():
    assert rules.student_id("K7WDM3QX", "cookie-a") == rules.student_id("K7WDM3QX", "cookie-a")
    assert rules.student_id("K7WDM3QX", "cookie-a") != rules.student_id("K7WDM3QX", "cookie-b")
    assert rules.student_id("K7WDM3QX", "cookie-a") != rules.student_id("ABCDEFGH", "cookie-a")
    assert "cookie-a" not in rules.student_id("K7WDM3QX", "cookie-a")
    assert rules.student_id("K7WDM3QX", None) != rules.student_id("K7WDM3QX", None)  # no cookie: each session


def test_a_class_expires_and_the_page_says_so(lesson, clock):
    code, secret = lesson.start()
    clock.now += rules.CLASS_HOURS * 3600 - 1
    assert lesson.find(code, "s")[0] is not None
    clock.now += 2
    state, why = lesson.find(code, "s")
    assert state is None and "has ended" in why and rules.shown(code) in why
    code2, secret2 = lesson.start()  # starting a class forgets the expired ones
    assert lesson.store.get(code, 0) is None


def test_the_teacher_ends_the_class(lesson):
    code, secret = lesson.start()
    lesson.end(lesson.seat(lesson.state(code), secret))
    assert lesson.find(code, "s")[0] is None


def test_wrong_codes_are_limited_per_session_and_per_server(lesson, clock):
    said = [lesson.find("ABCDEFGH", "me")[1] for _ in range(rules.WRONG_CODES_PER_MINUTE + 1)]
    assert all("no class" in s for s in said[:-1]) and "Too many" in said[-1]
    clock.now += 60
    assert "no class" in lesson.find("ABCDEFGH", "me")[1]  # a new minute
    clock.now += 60
    said = [lesson.find("ABCDEFGH", f"session{i}")[1] for i in range(rules.WRONG_CODES_PER_SECOND + 1)]
    assert "Too many" in said[-1] and "Too many" not in said[-2]  # many sessions: the server's limit
    code, _ = lesson.start()
    assert lesson.find(code, "me")[0] is not None  # a right code is never limited


def test_answers_and_sentences_are_rate_limited_per_student(lesson, clock):
    code, secret = lesson.start()
    teacher = lesson.seat(lesson.state(code), secret)
    lesson.push(teacher, {"view": "quiz"}, ask=True)
    seat = lesson.seat(lesson.state(code), None)
    q = seat.state.question
    outcomes = [lesson.answer(seat, q, "ana", 1) for _ in range(rules.ANSWERS_PER_MINUTE + 1)]
    assert outcomes[0] == COUNTED and outcomes[-1] == "limited"
    assert lesson.store.answers(code, q) == {1: 1}
    said = [lesson.send(seat, "ana", "", f"sentence {i}") for i in range(rules.SENTENCES_PER_MINUTE + 1)]
    assert said[:-1] == [None] * rules.SENTENCES_PER_MINUTE and "a minute" in said[-1]
    assert lesson.send(seat, "ben", "ben", "x" * (rules.SENTENCE_CHARS + 1)).startswith(
        "A sentence for the class"
    )
    assert lesson.send(seat, "ben", "ben", "   ") == "Type a sentence first."
    clock.now += 60
    assert lesson.send(seat, "ana", " a  very long nickname that goes on and on ", "again") is None
    sent = lesson.store.sentences(code)
    assert len(sent) == rules.SENTENCES_PER_MINUTE + 1 and sent[-1].nickname == "a very long nickname tha"
    lesson.reveal(teacher, q)
    assert lesson.answer(seat, q, "ben", 2) == LATE and lesson.store.answers(code, q) == {1: 1}


def test_presence_counts_pages_seen_lately(lesson, clock):
    code, _ = lesson.start()
    lesson.report(code, "ana", True)
    lesson.report(code, "ben", False)
    assert lesson.presence(code) == (1, 1)
    clock.now += rules.FOLLOWING_WITHIN + 1  # ben closed his laptop
    lesson.report(code, "ana", True)
    assert lesson.presence(code) == (1, 0)


def test_a_browser_is_known_by_its_token_under_the_cookies_mask():
    from app_support.classroom.page import browser_token

    # two page loads of one browser (Streamlit masks its XSRF token anew on each), then another browser
    first = browser_token("2|58d6efa4|b60be97baa387e20d62a37f5b3388c32|1796692701")
    again = browser_token("2|f3462266|1d9b24b901a8b3e27dbafa3718a841f0|1796692701")
    assert first == again == "eedd06dff2ee91848efcd851ebee6396"
    assert browser_token("2|f3462266|1d9b24b901a8b3e27dbafa3718a841f1|1796692701") != first
    assert (
        browser_token(None) is None
        and browser_token("plain") == "plain"
        and browser_token("2|zz|yy|1") == "2|zz|yy|1"
    )
