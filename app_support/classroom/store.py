"""Where a class lives: SQLite by default, Redis when several app processes serve one class (no streamlit).

One class is one record plus its answers, its students' presence and the sentences they sent. Every write
that must not race (a push, a question, an answer, the reveal) is one transaction (SQLite's BEGIN IMMEDIATE)
or one Lua script (Redis), so 30 students answering at once are each counted once, and two app processes on
one store agree. Nothing here knows Streamlit or decides who may do what (app_support.classroom.lesson does).

    open_store("")                          # SQLite, data/classes.sqlite3 under the project (WAL mode)
    open_store("sqlite:///tmp/c.sqlite3")   # SQLite, that file
    open_store("redis://localhost:6379/0")  # Redis (the `redis` package)

Times are seconds since the epoch, passed in by the caller (tests move the clock).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DEFAULT_SQLITE = Path(__file__).resolve().parents[2] / "data" / "classes.sqlite3"
COUNTED, AGAIN, LATE, CLOSED = "counted", "again", "late", "closed"  # what became of an answer


@dataclass(frozen=True)
class ClassState:
    """A class as its pages read it on every poll."""

    code: str
    secret_hash: (
        str  # sha256 hex of the teacher's secret (lesson.secret_hash); the secret itself is never kept
    )
    created: float
    expires: float
    version: int  # grows with every push, question and reveal: a page reruns when it changes
    push: dict[str, str] | None  # the URL parameters the teacher pushed last (None: nothing shown yet)
    question: int  # the open question's number (0: none asked yet); its round is `push` of that version
    asked: dict[str, str] | None  # the URL parameters of the question's round
    revealed: bool  # the question's answer has been shown


@dataclass(frozen=True)
class Sentence:
    id: int
    nickname: str
    text: str
    at: float


class Store(Protocol):
    def create(self, code: str, secret_hash: str, now: float, expires: float) -> bool:
        """A new class; False when the code is taken (by a class that has not expired)."""

    def get(self, code: str, now: float) -> ClassState | None:
        """The class, or None when there is none or it has expired."""

    def end(self, code: str, now: float) -> None:
        """The teacher ends the class: it expires now."""

    def push(self, code: str, query: dict[str, str], ask: bool) -> int:
        """Show `query` to the class (and, with `ask`, open a question on it); returns the new version."""

    def reveal(self, code: str, question: int) -> bool:
        """Show the answer of `question`; False when it is not the open question or already revealed."""

    def answer(self, code: str, question: int, student: str, choice: int, now: float) -> str:
        """One student's answer: COUNTED, AGAIN (already answered: the first stays), LATE (after the reveal)
        or CLOSED (not the open question, or the class has ended)."""

    def answers(self, code: str, question: int) -> dict[int, int]:
        """choice -> how many students picked it."""

    def my_answer(self, code: str, question: int, student: str) -> int | None: ...

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        """A student's page is open (following the class, or exploring on its own)."""

    def presence(self, code: str, since: float) -> tuple[int, int]:
        """(following, exploring): students whose page was seen at or after `since`."""

    def send(self, code: str, student: str, nickname: str, text: str, now: float) -> int:
        """A sentence for the teacher; returns its id."""

    def sentences(self, code: str) -> list[Sentence]:
        """The sentences sent and not dismissed, oldest first."""

    def dismiss(self, code: str, sentence_id: int) -> None: ...

    def hit(self, key: str, window: int, now: float) -> int:
        """Count one event for `key` in the current `window`-second window; returns the window's count."""

    def purge(self, now: float) -> int:
        """Forget every class that has expired, with its answers and sentences; returns how many."""


def open_store(url: str = "") -> Store:
    """The store named by `url` (CLASS_STORE): "" or sqlite:///PATH, or redis://..."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url)
    if url and not url.startswith("sqlite:///"):
        raise ValueError(f"CLASS_STORE must be sqlite:///PATH or redis://HOST:PORT/DB, not {url!r}")
    return SQLiteStore(Path(url.removeprefix("sqlite:///")) if url else DEFAULT_SQLITE)


def _query(raw: str | None) -> dict[str, str] | None:
    return None if not raw else json.loads(raw)


# --- SQLite -------------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 0, push TEXT, question INTEGER NOT NULL DEFAULT 0, asked TEXT,
    revealed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL, question INTEGER NOT NULL, student TEXT NOT NULL, choice INTEGER NOT NULL, at REAL,
    PRIMARY KEY (code, question, student));
CREATE TABLE IF NOT EXISTS presence (
    code TEXT NOT NULL, student TEXT NOT NULL, following INTEGER NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (code, student));
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL, student TEXT NOT NULL, nickname TEXT NOT NULL,
    text TEXT NOT NULL, at REAL NOT NULL, dismissed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS sentences_code ON sentences (code);
CREATE TABLE IF NOT EXISTS limits (key TEXT PRIMARY KEY, window REAL NOT NULL, count INTEGER NOT NULL);
"""


class SQLiteStore:
    """One file in WAL mode: readers never wait for the writer, and a restart loses nothing. One connection
    per process, shared by the server's threads under a lock (every call is well under a millisecond)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a crash of the app
            self._db.executescript(_SCHEMA)

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, *statements: tuple[str, tuple]) -> list[tuple[int, list[tuple]]]:
        """Statements in one transaction (BEGIN IMMEDIATE: other processes wait for it, never interleave);
        (rows changed, rows returned) of each."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                done = []
                for sql, args in statements:
                    cursor = self._db.execute(sql, args)
                    rows = cursor.fetchall()  # before COMMIT: a RETURNING clause's rows
                    done.append((cursor.rowcount, rows))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return done

    def create(self, code: str, secret_hash: str, now: float, expires: float) -> bool:
        cursors = self._write(
            ("DELETE FROM classes WHERE code = ? AND expires <= ?", (code, now)),
            *((f"DELETE FROM {table} WHERE code = ? AND code NOT IN (SELECT code FROM classes)", (code,))
              for table in ("answers", "presence", "sentences")),  # an earlier class's, or sent to none
            ("INSERT OR IGNORE INTO classes (code, secret_hash, created, expires) VALUES (?, ?, ?, ?)",
             (code, secret_hash, now, expires)),
        )  # fmt: skip
        return cursors[-1][0] == 1

    def get(self, code: str, now: float) -> ClassState | None:
        rows = self._read(
            "SELECT code, secret_hash, created, expires, version, push, question, asked, revealed FROM classes "
            "WHERE code = ? AND expires > ?",
            (code, now),
        )
        if not rows:
            return None
        c, h, created, expires, version, push, question, asked, revealed = rows[0]
        return ClassState(
            c, h, created, expires, version, _query(push), question, _query(asked), bool(revealed)
        )

    def end(self, code: str, now: float) -> None:
        self._write(("UPDATE classes SET expires = MIN(expires, ?) WHERE code = ?", (now, code)))

    def push(self, code: str, query: dict[str, str], ask: bool) -> int:
        raw = json.dumps(query, sort_keys=True)
        bump = (
            "UPDATE classes SET version = version + 1, push = ? WHERE code = ? RETURNING version",
            (raw, code),
        )
        question = (
            "UPDATE classes SET question = version, asked = ?, revealed = 0 WHERE code = ?",
            (raw, code),
        )
        done = self._write(bump, *([question] if ask else []))
        return done[0][1][0][0] if done[0][1] else -1

    def reveal(self, code: str, question: int) -> bool:
        sql = (
            "UPDATE classes SET revealed = 1, version = version + 1 "
            "WHERE code = ? AND question = ? AND question > 0 AND revealed = 0"
        )
        return self._write((sql, (code, question)))[0][0] == 1

    def answer(self, code: str, question: int, student: str, choice: int, now: float) -> str:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT question, revealed FROM classes WHERE code = ? AND expires > ?", (code, now)
                ).fetchone()
                if row is None or row[0] != question or question <= 0:
                    outcome = CLOSED
                elif row[1]:
                    outcome = LATE
                else:
                    added = self._db.execute(
                        "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?)",
                        (code, question, student, choice, now),
                    )
                    outcome = COUNTED if added.rowcount == 1 else AGAIN
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return outcome

    def answers(self, code: str, question: int) -> dict[int, int]:
        rows = self._read(
            "SELECT choice, COUNT(*) FROM answers WHERE code = ? AND question = ? GROUP BY choice",
            (code, question),
        )
        return dict(rows)

    def my_answer(self, code: str, question: int, student: str) -> int | None:
        rows = self._read(
            "SELECT choice FROM answers WHERE code = ? AND question = ? AND student = ?",
            (code, question, student),
        )
        return rows[0][0] if rows else None

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        self._write(
            ("INSERT OR REPLACE INTO presence VALUES (?, ?, ?, ?)", (code, student, int(following), now))
        )

    def presence(self, code: str, since: float) -> tuple[int, int]:
        rows = dict(
            self._read(
                "SELECT following, COUNT(*) FROM presence WHERE code = ? AND seen >= ? GROUP BY following",
                (code, since),
            )
        )
        return rows.get(1, 0), rows.get(0, 0)

    def send(self, code: str, student: str, nickname: str, text: str, now: float) -> int:
        sql = "INSERT INTO sentences (code, student, nickname, text, at) VALUES (?, ?, ?, ?, ?) RETURNING id"
        return self._write((sql, (code, student, nickname, text, now)))[0][1][0][0]

    def sentences(self, code: str) -> list[Sentence]:
        rows = self._read(
            "SELECT id, nickname, text, at FROM sentences WHERE code = ? AND dismissed = 0 ORDER BY id",
            (code,),
        )
        return [Sentence(*row) for row in rows]

    def dismiss(self, code: str, sentence_id: int) -> None:
        self._write(("UPDATE sentences SET dismissed = 1 WHERE code = ? AND id = ?", (code, sentence_id)))

    def hit(self, key: str, window: int, now: float) -> int:
        start = now - now % window
        done = self._write(
            ("DELETE FROM limits WHERE key = ? AND window < ?", (key, start)),
            ("INSERT INTO limits VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET count = count + 1 "
             "RETURNING count", (key, start)),
        )  # fmt: skip
        return done[1][1][0][0]

    def purge(self, now: float) -> int:
        gone = [code for (code,) in self._read("SELECT code FROM classes WHERE expires <= ?", (now,))]
        for code in gone:
            self._write(
                *(
                    (f"DELETE FROM {table} WHERE code = ?", (code,))
                    for table in ("answers", "presence", "sentences")
                ),
                ("DELETE FROM classes WHERE code = ? AND expires <= ?", (code, now)),
            )
        self._write(("DELETE FROM limits WHERE window < ?", (now - 3600,)))
        return len(gone)


# --- Redis --------------------------------------------------------------------------------------------------

# KEYS[1] the class's hash; ARGV: query, ask (1/0). Returns the new version.
_PUSH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'push', ARGV[1])
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'question', v, 'asked', ARGV[1], 'revealed', 0) end
return v
"""
# KEYS[1] the class's hash; ARGV: question. Returns 1 when revealed now.
_REVEAL = """
local h = redis.call('HMGET', KEYS[1], 'question', 'revealed')
if h[1] ~= ARGV[1] or ARGV[1] == '0' or h[2] == '1' then return 0 end
redis.call('HSET', KEYS[1], 'revealed', 1)
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 1
"""
# KEYS[1] the class's hash, KEYS[2] the question's answers; ARGV: question, student, choice, expires, now
_ANSWER = """
local h = redis.call('HMGET', KEYS[1], 'question', 'revealed', 'expires')
if not h[1] or h[1] ~= ARGV[1] or ARGV[1] == '0' or tonumber(h[3]) <= tonumber(ARGV[5]) then return 'closed' end
if h[2] == '1' then return 'late' end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 1 then
  redis.call('EXPIREAT', KEYS[2], ARGV[4]); return 'counted' end
return 'again'
"""


class RedisStore:
    """The same state in Redis, every key of a class expiring with it (EXPIREAT), so several app processes
    serve one class. Keys: transformer-live:class:CODE (a hash), ...:answers:Q, ...:seen, ...:sentences,
    ...:sentence_ids, ...:gone."""

    PREFIX = "transformer-live:"

    def __init__(self, url: str):
        import redis  # only where a Redis store is asked for

        self._r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self._push, self._reveal, self._answer = (
            self._r.register_script(s) for s in (_PUSH, _REVEAL, _ANSWER)
        )

    def _key(self, code: str, *part: str) -> str:
        return ":".join([f"{self.PREFIX}class", code, *part])

    def _expire(self, code: str, *keys: str) -> None:
        expires = self._r.hget(self._key(code), "expires")
        if expires is not None:
            for key in keys:
                self._r.expireat(key, int(float(expires)) + 1)

    def create(self, code: str, secret_hash: str, now: float, expires: float) -> bool:
        key = self._key(code)
        old, version = self._r.hmget(key, "expires", "version")
        if old is not None and float(old) > now:
            return False
        answers = (self._key(code, "answers", str(q)) for q in range(1, int(version or 0) + 1))
        parts = ("seen", "sentences", "sentence_ids", "gone")
        self._r.delete(key, *(self._key(code, part) for part in parts), *answers)
        fields = {"secret_hash": secret_hash, "created": now, "expires": expires, "version": 0, "question": 0,
                  "revealed": 0}  # fmt: skip
        created = self._r.hsetnx(key, "secret_hash", secret_hash)
        if not created:  # another process made it between the two calls
            return False
        self._r.hset(key, mapping=fields)
        self._r.expireat(key, int(expires) + 1)
        return True

    def get(self, code: str, now: float) -> ClassState | None:
        h = self._r.hgetall(self._key(code))
        if not h or float(h["expires"]) <= now:
            return None
        return ClassState(
            code, h["secret_hash"], float(h["created"]), float(h["expires"]), int(h["version"]),
            _query(h.get("push")), int(h["question"]), _query(h.get("asked")), h["revealed"] == "1",
        )  # fmt: skip

    def end(self, code: str, now: float) -> None:
        if self._r.exists(self._key(code)):
            self._r.hset(
                self._key(code), "expires", min(now, float(self._r.hget(self._key(code), "expires")))
            )

    def push(self, code: str, query: dict[str, str], ask: bool) -> int:
        return int(self._push(keys=[self._key(code)], args=[json.dumps(query, sort_keys=True), int(ask)]))

    def reveal(self, code: str, question: int) -> bool:
        return self._reveal(keys=[self._key(code)], args=[question]) == 1

    def answer(self, code: str, question: int, student: str, choice: int, now: float) -> str:
        expires = self._r.hget(self._key(code), "expires") or now + 1
        keys = [self._key(code), self._key(code, "answers", str(question))]
        return self._answer(keys=keys, args=[question, student, choice, int(float(expires)) + 1, now])

    def answers(self, code: str, question: int) -> dict[int, int]:
        return dict(Counter(int(c) for c in self._r.hvals(self._key(code, "answers", str(question)))))

    def my_answer(self, code: str, question: int, student: str) -> int | None:
        choice = self._r.hget(self._key(code, "answers", str(question)), student)
        return None if choice is None else int(choice)

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        key = self._key(code, "seen")
        self._r.hset(key, student, f"{int(following)}|{now}")
        self._expire(code, key)

    def presence(self, code: str, since: float) -> tuple[int, int]:
        counts = Counter()
        for raw in self._r.hvals(self._key(code, "seen")):
            following, at = raw.split("|")
            if float(at) >= since:
                counts[following] += 1
        return counts["1"], counts["0"]

    def send(self, code: str, student: str, nickname: str, text: str, now: float) -> int:
        counter, key = self._key(code, "sentence_ids"), self._key(code, "sentences")
        sentence_id = self._r.incr(counter)  # not in the class's hash: that would make a class of no class
        self._r.rpush(key, json.dumps({"id": sentence_id, "nickname": nickname, "text": text, "at": now}))
        self._expire(code, counter, key)
        return sentence_id

    def sentences(self, code: str) -> list[Sentence]:
        gone = {int(i) for i in self._r.smembers(self._key(code, "gone"))}
        sent = (json.loads(raw) for raw in self._r.lrange(self._key(code, "sentences"), 0, -1))
        return [Sentence(s["id"], s["nickname"], s["text"], s["at"]) for s in sent if s["id"] not in gone]

    def dismiss(self, code: str, sentence_id: int) -> None:
        key = self._key(code, "gone")
        self._r.sadd(key, sentence_id)
        self._expire(code, key)

    def hit(self, key: str, window: int, now: float) -> int:
        name = f"{self.PREFIX}limit:{key}:{int(now // window)}"
        count, _ = self._r.pipeline().incr(name).expire(name, window + 1).execute()
        return int(count)

    def purge(self, now: float) -> int:
        return 0  # every key expires by itself (EXPIREAT)
