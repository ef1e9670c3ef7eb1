"""Class mode through AppTest: a teacher's session and students' sessions on one store, as pages of one server
(or of several servers sharing Redis) would be: start, follow, explore, ask, answer, reveal, collect sentences,
end. The store is SQLite (this test process's own file, tests/conftest.py) or a real redis-server."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from app_support.classroom import lesson as rules
from app_support.classroom.lesson import lesson
from tests.support.apptest import APP, TOY, needs_model, needs_toy
from tests.support.figure_json import array_of

QUIZ = "I know that she speaks German."  # a built-in quiz sentence of the default model


@pytest.fixture(params=["sqlite", "redis"])
def store(request, monkeypatch):
    """Which store the app's sessions share (CLASS_STORE): the suite's SQLite file, or a real redis-server."""
    if request.param == "redis":
        monkeypatch.setenv("CLASS_STORE", request.getfixturevalue("redis_url"))
    return request.param


def page(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def says(at: AppTest) -> str:
    """Every line of text on the page, joined: what a person reads."""
    kinds = ("markdown", "caption", "info", "success", "warning", "error")
    return "\n".join(str(e.value) for kind in kinds for e in at.get(kind))


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def start_class(**params: str) -> tuple[AppTest, str, str]:
    teacher = page(**{"class": "new", **params})
    ss = teacher.session_state
    return teacher, ss["class_code"], ss["class_teach"]


def test_a_class_in_one_click_gives_two_links_and_a_qr_code():
    teacher, code, secret = start_class(model=TOY, text="a b c") if TOY else start_class()
    assert rules.read_code(code) == code and rules.read_secret(secret) == secret
    assert teacher.query_params["class"] == code and teacher.query_params["teach"] == secret
    text = says(teacher)
    assert f"Class code: `{rules.shown(code)}`" in text  # the invitation opens once
    assert f"**Class {rules.shown(code)}** · nothing shown yet  \n0 following · 0 exploring" in text
    links = [c.value for c in teacher.code]
    assert any(link.endswith(f"?class={code}") for link in links)
    assert any(link.endswith(f"?class={code}&teach={secret}") for link in links)
    assert {"Show this to the class", "Invite"} <= set(labels(teacher))
    teacher.run()
    assert "Class code:" not in says(teacher)  # once
    # the sidebar's button does the same from any page
    other = page()
    other.button(key="class_start").click().run()
    assert other.session_state["class_code"] not in (
        None,
        code,
        rules.NEW,
    ) and "Show this to the class" in labels(other)


@needs_toy
def test_students_follow_what_the_teacher_shows_and_may_explore(store):
    teacher, code, secret = start_class(model=TOY, text="a b c")
    ana, ben = page(**{"class": code}), page(**{"class": code})
    for s in (ana, ben):
        assert f"**Class {rules.shown(code)}** · following your teacher" in says(s)
        assert "Show this to the class" not in labels(s) and "Explore on my own" in labels(s)
    ben.button(key="class_explore").click().run()
    teacher.session_state["view"] = "decoding"
    teacher.session_state["text"] = "c a b b"
    teacher.session_state["step"] = 2
    teacher.run()
    assert "1 following · 1 exploring" in says(teacher)
    teacher.button(key="class_push").click().run()
    assert "showing this page" in says(teacher)
    ana.run(), ben.run()
    assert (ana.session_state["view"], ana.session_state["text"], ana.session_state["step"]) == (
        "decoding",
        "c a b b",
        2,
    )
    assert ana.session_state["model"] == TOY and ana.query_params["class"] == code
    assert "teach" not in ana.query_params and "present" not in ana.query_params
    assert ben.session_state["text"] != "c a b b" and "exploring on your own" in says(ben)
    ben.button(key="class_back").click().run()
    assert (ben.session_state["view"], ben.session_state["text"]) == ("decoding", "c a b b")
    # a student's own change stands until the teacher shows something new
    ana.session_state["text"] = "a a"
    ana.run()
    assert ana.session_state["text"] == "a a"


@needs_model
def test_a_question_is_answered_once_per_student_and_revealed_by_the_teacher(store):
    teacher, code, secret = start_class()
    students = [page(**{"class": code}) for _ in range(3)]
    teacher.session_state["view"] = "quiz"
    teacher.session_state["text"] = QUIZ
    teacher.run()
    teacher.button(key="class_ask").click().run()
    assert "**0 answered**" in says(teacher)
    question = lesson().state(code).question
    for s in students:
        s.run()
        assert s.session_state["view"] == "quiz" and s.session_state["text"] == QUIZ
        assert "Pick a word" in says(s) and not s.get("plotly_chart")  # the answer stays hidden
    picks = [1, 2, 2]
    for s, pick in zip(students[:2], picks):
        s.pills(key="quiz_pick").set_value(pick).run()
        assert "Your answer is in" in says(s) and s.pills(key="quiz_pick").disabled
        assert not s.dataframe  # "what every layer reads" waits for the reveal too
    teacher.run()
    assert "**2 answered** · 3 following the class" in says(teacher)
    spread = json.loads(teacher.get("plotly_chart")[0].proto.spec)
    bars = [t for t in spread["data"] if t["type"] == "bar"]
    assert sum(array_of(t["y"]).sum() for t in bars) == 2 and not any(t.get("showlegend", True) for t in bars)
    # the first answer stands: a second one from the same student is not counted
    me = students[0].session_state["class_me"]
    assert students[0].query_params["me"] == me  # a reload keeps the student
    seat = lesson().seat(lesson().state(code), None)
    assert lesson().answer(seat, question, me, 3) == "again"
    teacher.button(key="class_reveal").click().run()
    assert "2 answers:" in says(teacher)
    assert lesson().answer(seat, question, "late student", 3) == "late"  # after the reveal: not counted
    assert lesson().store.answers(code, question) == {1: 1, 2: 1}
    for s in students[:2]:
        s.run()
        assert any(m in says(s) for m in ("Yes: the model reads", "Not quite: the model reads"))
        assert "How the class picked" in json.dumps([c.proto.spec for c in s.get("plotly_chart")])
    students[2].run()
    assert "Revealed before you picked" in says(students[2]) and students[2].pills(key="quiz_pick").disabled


@needs_toy
def test_a_students_sentence_reaches_the_class_only_when_the_teacher_shows_it():
    teacher, code, secret = start_class(model=TOY, text="a b c")
    teacher.button(key="class_push").click().run()
    ana, ben = page(**{"class": code}), page(**{"class": code})
    sent = "<b>bold?</b> a b 🦜"
    ana.text_input(key="class_sentence").input(sent)
    ana.text_input(key="class_nickname").input("ana")
    ana.button(key="FormSubmitter:class_send-Send to the teacher").click().run()
    assert "Sent: your teacher sees it" in says(ana)
    ben.run()
    assert sent not in says(ben) and ben.session_state["text"] == "a b c"
    teacher.run()
    inbox = says(teacher)
    assert "` <b>bold?</b> a b 🦜 ` — ` ana `" in inbox  # as code: shown as typed, never as HTML
    shown = next(b for b in teacher.button if b.key.startswith("class_show_"))
    shown.click().run()
    ben.run()
    assert ben.session_state["text"] == sent
    assert not any(b.key.startswith("class_show_") for b in teacher.button)  # shown: off the list


@needs_toy
def test_a_wrong_secret_or_code_leads_nothing_and_an_ended_class_lets_its_students_go():
    teacher, code, secret = start_class(model=TOY, text="a b c")
    forged = page(**{"class": code, "teach": "A" * 24})
    assert "does not match" in says(forged) and "Show this to the class" not in labels(forged)
    assert "teach" not in forged.query_params
    lost = page(**{"class": "ABCD-EFGH"})
    assert "There is no class ABCD-EFGH" in says(lost) and "class" not in lost.query_params
    student = page(**{"class": code})
    teacher.button(key="class_end").click().run()
    assert "Show this to the class" not in labels(teacher) and "class" not in teacher.query_params
    student.run()
    assert "has ended" in says(student) and "class" not in student.query_params
