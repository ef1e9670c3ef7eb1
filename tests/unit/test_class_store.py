"""The class store's contract (app_support.classroom.store) on both backends: SQLite on a file of its own and
a real redis-server (the `redis_url` fixture, emptied for each test). Answers count once per student, also
from 40 threads and from two processes at once; restart and purge are SQLite's. The clock starts at the real
time: Redis expires a class's keys at real times (EXPIREAT), whatever time the store is told.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import pytest
import redis

from app_support.classroom import store as store_module
from app_support.classroom.store import AGAIN, CLOSED, COUNTED, LATE, Sentence, open_store
from tests.support.threads import at_once

HOUR = 3600.0
ROUND = {"view": "attention", "text": "Die Katze schläft."}


@pytest.fixture(params=["sqlite", "redis"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'classes.sqlite3'}"
    url = request.getfixturevalue("redis_url")
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture
def store(url):
    return open_store(url)


@pytest.fixture
def now() -> float:
    return time.time()


@pytest.fixture
def live(store, now) -> str:
    """A class that lives for an hour; its code."""
    assert store.create("KATZE", "h" * 64, now, now + HOUR)
    return "KATZE"


def test_create_get_end(store, now):
    assert store.get("KATZE", now) is None
    assert store.create("KATZE", "first", now, now + 60)
    assert not store.create("KATZE", "second", now + 30, now + HOUR)  # taken while it lives
    state = store.get("KATZE", now + 59)
    assert (state.code, state.secret_hash, state.created, state.expires) == ("KATZE", "first", now, now + 60)
    assert (state.version, state.push, state.question, state.asked) == (0, None, 0, None)
    assert state.revealed is False
    assert store.get("KATZE", now + 60) is None  # expired
    assert store.create("KATZE", "second", now + 60, now + HOUR)  # an expired code is free again
    assert store.get("KATZE", now + 61).secret_hash == "second"
    store.end("KATZE", now + 62)
    assert store.get("KATZE", now + 62) is None
    assert store.create("KATZE", "third", now + 62, now + HOUR)


def test_a_class_made_again_starts_afresh(store, now):
    store.send("KATZE", "ana", "Ana", "sent to no class", now)  # writes to no class make none
    store.push("KATZE", ROUND, ask=True)
    assert store.answer("KATZE", 1, "ana", 0, now) == CLOSED and store.get("KATZE", now) is None
    assert store.create("KATZE", "old", now, now + 60)
    assert store.sentences("KATZE") == []
    question = store.push("KATZE", ROUND, ask=True)
    assert store.answer("KATZE", question, "ana", 2, now) == COUNTED
    store.send("KATZE", "ana", "Ana", "old sentence", now)
    store.seen("KATZE", "ana", True, now)
    store.end("KATZE", now + 1)
    assert store.create("KATZE", "new", now + 1, now + HOUR)
    assert store.push("KATZE", ROUND, ask=True) == question  # the same number, a new question
    assert store.answers("KATZE", question) == {}
    assert store.my_answer("KATZE", question, "ana") is None
    assert store.answer("KATZE", question, "ana", 1, now + 2) == COUNTED
    assert store.sentences("KATZE") == []
    assert store.presence("KATZE", now) == (0, 0)


def test_push_and_ask(store, live):
    assert store.push(live, ROUND, ask=False) == 1
    state = store.get(live, time.time())
    assert (state.version, state.push, state.question, state.asked) == (1, ROUND, 0, None)
    asked = {**ROUND, "quiz": "1"}
    assert store.push(live, asked, ask=True) == 2
    state = store.get(live, time.time())
    assert (state.version, state.push, state.question, state.asked) == (2, asked, 2, asked)
    assert not state.revealed
    assert store.push(live, ROUND, ask=False) == 3  # showing something else keeps the question open
    state = store.get(live, time.time())
    assert (state.version, state.push, state.question, state.asked) == (3, ROUND, 2, asked)


def test_answers_counted_once_then_late_or_closed(store, live, now):
    question = store.push(live, ROUND, ask=True)
    assert store.answer(live, question, "ana", 2, now) == COUNTED
    assert store.answer(live, question, "ana", 3, now) == AGAIN
    assert store.my_answer(live, question, "ana") == 2  # the first stays
    assert store.answer(live, question, "ben", 2, now) == COUNTED
    assert store.answer(live, question, "cem", 0, now) == COUNTED
    assert store.answers(live, question) == {2: 2, 0: 1}
    assert store.my_answer(live, question, "dan") is None
    assert store.answer(live, 0, "dan", 1, now) == store.answer(live, question + 1, "dan", 1, now) == CLOSED
    assert not store.reveal(live, 0) and not store.reveal(live, question + 1)
    version = store.get(live, now).version
    assert store.reveal(live, question) and not store.reveal(live, question)  # once
    state = store.get(live, now)
    assert (state.version, state.revealed) == (version + 1, True)
    assert store.answer(live, question, "dan", 1, now) == LATE
    assert store.answers(live, question) == {2: 2, 0: 1} and store.my_answer(live, question, "dan") is None
    second = store.push(live, ROUND, ask=True)
    assert second > question and not store.get(live, now).revealed
    assert store.answer(live, question, "eva", 1, now) == CLOSED  # the old question
    assert store.answer(live, second, "ana", 1, now) == COUNTED
    assert store.answers(live, second) == {1: 1} and store.answers(live, question) == {2: 2, 0: 1}


def test_thirty_students_at_once(store, live, now):
    """Per question, 30 students and 10 second tries (another choice) in 40 threads started together."""
    students = [f"s{i}" for i in range(30)]
    tries = [(s, i % 4) for i, s in enumerate(students)]
    tries += [(s, (i + 1) % 4) for i, s in enumerate(students[::3])]
    for _ in range(5):
        question = store.push(live, ROUND, ask=True)
        outcomes = []
        at_once(lambda s, c, q=question, out=outcomes: out.append(store.answer(live, q, s, c, now)), tries)
        assert Counter(outcomes) == {COUNTED: 30, AGAIN: 10}
        counts = store.answers(live, question)
        assert sum(counts.values()) == 30
        assert counts == Counter(store.my_answer(live, question, s) for s in students)


def _answer_in_a_process(url: str, code: str, question: int, students: list[str], start, results) -> None:
    store = open_store(url)  # a store of its own, as a second app process has
    start.wait()
    results.put([store.answer(code, question, s, int(s[1:]) % 4, time.time()) for s in students])


def test_two_processes_one_store(url, store, live):
    """Two processes (spawned: nothing shared but the file or the server), started together, both answer for
    students s10..s19 first, then each for ten students of its own."""
    question = store.push(live, ROUND, ask=True)
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    both = [f"s{i}" for i in range(10, 20)]
    mine = [both + [f"s{i}" for i in range(0, 10)], both + [f"s{i}" for i in range(20, 30)]]
    job = (url, live, question)
    processes = [context.Process(target=_answer_in_a_process, args=(*job, s, start, results)) for s in mine]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)  # the results are a few hundred bytes: the queue's pipe holds them
    assert [p.exitcode for p in processes] == [0, 0]
    outcomes = Counter(o for _ in processes for o in results.get(timeout=5))
    assert outcomes == {COUNTED: 30, AGAIN: 10}
    assert store.answers(live, question) == Counter(i % 4 for i in range(30))


def test_sqlite_restart_loses_nothing(tmp_path, now):
    url = f"sqlite:///{tmp_path / 'classes.sqlite3'}"
    first = open_store(url)
    assert first.create("KATZE", "h", now, now + HOUR)
    question = first.push("KATZE", ROUND, ask=True)
    for i, student in enumerate(["ana", "ben", "cem"]):
        first.answer("KATZE", question, student, i, now)
    first.send("KATZE", "ana", "Ana", "why?", now)
    again = open_store(url)  # as after a restart of the app
    state = again.get("KATZE", now)
    assert state == first.get("KATZE", now) and (state.question, state.asked) == (question, ROUND)
    assert again.answers("KATZE", question) == {0: 1, 1: 1, 2: 1}
    assert again.my_answer("KATZE", question, "cem") == 2
    assert [s.text for s in again.sentences("KATZE")] == ["why?"]


def test_presence(store, live, now):
    store.seen(live, "ana", True, now)
    store.seen(live, "ben", False, now)
    store.seen(live, "cem", True, now - 100)
    assert store.presence(live, now - 10) == (1, 1)
    assert store.presence(live, now) == (1, 1)  # seen at `since` counts
    assert store.presence(live, now - 200) == (2, 1)
    assert store.presence(live, now + 1) == (0, 0)
    store.seen(live, "ana", False, now + 5)  # from following to exploring: one student still
    assert store.presence(live, now) == (0, 2)
    assert store.presence("OTHER", now - 200) == (0, 0)


def test_sentences(store, live, now):
    sent = [
        ("ana", "Ana", "Warum <script>alert('x')</script> & &amp;?"),
        ("ben", "Ben 🦊", 'Was heißt 𝄞 "Katze"?\nZweite Zeile'),
        ("cem", "<b>Cem</b>", "ok"),
    ]
    ids = [store.send(live, student, nick, text, now + i) for i, (student, nick, text) in enumerate(sent)]
    assert ids == sorted(set(ids))
    expected = [Sentence(id, nick, text, now + i) for i, (id, (_, nick, text)) in enumerate(zip(ids, sent))]
    assert store.sentences(live) == expected
    store.dismiss("OTHER", ids[0])  # another class's dismissal touches nothing here
    store.dismiss(live, ids[1])
    assert store.sentences(live) == [expected[0], expected[2]]
    assert store.send(live, "ana", "Ana", "again", now + 9) > ids[-1]


def test_hit_counts_per_key_and_window(store, now):
    start = 60.0 * (now // 60 + 1)
    assert [store.hit("ip:1", 60, start + t) for t in (0, 1, 59)] == [1, 2, 3]
    assert store.hit("ip:2", 60, start + 2) == 1
    assert store.hit("ip:1", 60, start + 60) == 1  # a new window
    assert store.hit("ip:1", 60, start + 61) == 2


def test_sqlite_purge(tmp_path, now):
    store = open_store(f"sqlite:///{tmp_path / 'classes.sqlite3'}")
    questions = {}
    for code, lives in (("OLD", 10), ("LIVE", HOUR)):
        assert store.create(code, "h", now, now + lives)
        questions[code] = store.push(code, ROUND, ask=True)
        store.answer(code, questions[code], "ana", 1, now)
        store.send(code, "ana", "Ana", "hi", now)
        store.seen(code, "ana", True, now)
    assert store.purge(now + 5) == 0 and store.answers("OLD", questions["OLD"]) == {1: 1}
    assert store.purge(now + 20) == 1
    assert store.answers("OLD", questions["OLD"]) == {} and store.sentences("OLD") == []
    assert store.presence("OLD", now) == (0, 0)
    assert store.get("LIVE", now + 20).question == questions["LIVE"]
    assert store.answers("LIVE", questions["LIVE"]) == {1: 1} and len(store.sentences("LIVE")) == 1
    assert store.purge(now + 20) == 0


def test_open_store_urls(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "DEFAULT_SQLITE", tmp_path / "classes.sqlite3")  # not the repo's data/
    default, named = open_store(""), open_store(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    assert isinstance(default, store_module.SQLiteStore) and default.path == tmp_path / "classes.sqlite3"
    assert isinstance(named, store_module.SQLiteStore) and named.path == tmp_path / "other.sqlite3"
    redis_store = open_store("redis://127.0.0.1:1/0")  # connects on first use only: no server here
    assert isinstance(redis_store, store_module.RedisStore)
    for wrong in ("postgres://db/classes", "/tmp/classes.sqlite3", "sqlite://classes.sqlite3"):
        with pytest.raises(ValueError, match=r"sqlite:///PATH or redis://HOST:PORT/DB"):
            open_store(wrong)


def test_an_ended_class_counts_no_answer(store):
    store.create("ENDEDXYZ", "h", time.time(), time.time() + 3600)
    store.push("ENDEDXYZ", {"view": "quiz"}, ask=True)
    store.end("ENDEDXYZ", time.time())
    assert store.answer("ENDEDXYZ", 1, "ana", 0, time.time()) == CLOSED
    assert store.answers("ENDEDXYZ", 1) == {}
