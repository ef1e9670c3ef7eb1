"""Class mode in a real browser: a teacher and two students, each in a browser context of their own (three
laptops), on one server (tests/conftest.py's, whose class store is a file of the run's own).

The tests are the steps of one lesson, in order, sharing the module's `lesson` (its pages and the class's
code): the teacher starts a class and sees the invitation; two students join from the student link; what the
teacher shows reaches the students who follow, not one who explores; a quiz question is asked, answered and
revealed; a sentence a student sends reaches the teacher as text and, shown, the class; a link with a wrong
teacher secret leads nothing. Every wait is on what a person sees; no test asserts a time (step 3 prints how
long a push took to reach the students). UPDATE_SCREENSHOT=1 saves the teacher's quiz page before and after
the reveal (docs/class-before-reveal.png, docs/class-after-reveal.png).
"""

from __future__ import annotations

import os
import re
import time
import types
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_support.classroom.lesson import ALPHABET
from tests.support import browser as bs
from transformer import available_models

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not {"reverse", "en-de"} <= set(available_models()),
        reason="needs the shipped models reverse and en-de",
    ),
]

TOY = {"model": "reverse"}
QUIZ = {"model": "en-de", "view": "quiz", "text": "I know that she speaks German."}
SENT = "<b>bold?</b> 🦜"  # a student's sentence: shown as text, never as HTML
WRONG_SECRET = "NotTheTeachersSecret1234"  # 24 characters, as a real one: well formed, but not this class's
CODE = re.compile(f"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")
SLOW = 60_000  # ms: the first draw of a view on a loaded machine
PRESENCE = 30_000  # ms: a student reports every 5 s and the teacher's counts refresh every 2 s

# the sentence box holds exactly `text`
SENTENCE_IS_JS = (
    "text => { const box = document.querySelector('.st-key-text input'); return box?.value === text; }"
)
# the view picker's lit button(s): what the page says it shows
PICKED_VIEW_JS = """() => Array.from(
    document.querySelectorAll('.st-key-view [role=radio][aria-checked=true]')).map(b => b.innerText.trim())"""


def _shot(page, name: str) -> None:
    """SCREENSHOTS=DIR: what the page looked like (the whole page), for a person to look at."""
    where = os.environ.get("SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / name), full_page=True)


def projected(page, name: str) -> None:
    """With UPDATE_SCREENSHOT=1, docs/<name>.png: the teacher's first screen, as a class sees it projected."""
    if os.environ.get("UPDATE_SCREENSHOT") != "1":
        return
    page.evaluate("() => document.querySelector('.stMain').scrollTo(0, 0)")
    page.wait_for_timeout(300)
    bs.docs_screenshot(page, name)


def button(page, key: str):
    """The button of a keyed widget (Streamlit renders a popover's or a dialog's twice: the shown one)."""
    return page.locator(f".st-key-{key} button:visible").first


def wait_for_bar(page, *parts: str, timeout: float = PRESENCE) -> None:
    """Wait until the class bar says every one of `parts`."""
    page.wait_for_function(
        """parts => { const bar = document.querySelector('.st-key-class_bar');
            return !!bar && parts.every(p => bar.innerText.includes(p)); }""",
        arg=list(parts),
        timeout=timeout,
        polling=100,
    )


def wait_for_view(page, title: str, text: str, timeout: float = SLOW) -> None:
    """Wait until the page shows the view `title` (its picker button lit) on the sentence `text`."""
    page.wait_for_function(
        f"""([title, text]) => {{ const box = document.querySelector('.st-key-text input');
            return !!box && box.value === text
                && JSON.stringify(({PICKED_VIEW_JS})()) === JSON.stringify([title]); }}""",
        arg=[title, text],
        timeout=timeout,
        polling=50,
    )


def shows(page) -> tuple[list[str], str]:
    """(the lit view picker buttons, the sentence) as the page shows them now."""
    return page.evaluate(PICKED_VIEW_JS), bs.sentence_box(page).input_value()


def pick_view(page, title: str) -> None:
    page.locator(".st-key-view").get_by_role("radio", name=title, exact=True).click()
    bs.wait_idle(page)


def push(page) -> float:
    """Click "Show this to the class" once the teacher's page has written its URL (what is pushed); returns
    the click's time.monotonic()."""
    bs.wait_idle(page)
    button(page, "class_push").click()
    return time.monotonic()


FIGURE_TITLES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .map(el => ((el._fullLayout || {}).title || {}).text || '')"""


def figure_titles(page) -> list[str]:
    """The titles of the page's Plotly figures (a subtitle, the sentence, follows in the same text)."""
    return page.evaluate(FIGURE_TITLES_JS)


def wait_for_figure(page, title: str, timeout: float = SLOW) -> None:
    """Wait until a figure whose title starts with `title` is drawn."""
    page.wait_for_function(
        f"title => ({FIGURE_TITLES_JS})().some(t => t.startsWith(title))",
        arg=title,
        timeout=timeout,
        polling=100,
    )


@pytest.fixture(scope="module")
def lesson(app_server, browser) -> Iterator[types.SimpleNamespace]:
    """The lesson's three laptops (a browser context each, kept for the module) and what the steps learn: the
    class's code, the teacher's secret, the student link."""
    contexts = [browser.new_context(viewport=bs.SMALL_SCREEN) for _ in range(3)]
    teacher, a, b = (c.new_page() for c in contexts)
    try:
        yield types.SimpleNamespace(server=app_server, teacher=teacher, a=a, b=b, students=(a, b))
    finally:
        for c in contexts:
            c.close()


def test_a_teacher_starts_a_class_and_sees_its_code_and_qr_code(lesson):
    """?class=new: the invitation opens once with the code (XXXX-XXXX) and a QR code that loaded; the page's
    URL becomes the teacher's (class=CODE&teach=SECRET)."""
    t = lesson.teacher
    t.goto(bs.app_url(lesson.server, **{"class": "new", "view": "io", "text": "a b c", **TOY}))
    dialog = t.get_by_role("dialog")
    dialog.wait_for(timeout=SLOW)
    heading = dialog.get_by_text("Class code:")
    heading.wait_for(timeout=SLOW)
    shown = dialog.locator("h2 code").first.inner_text().strip()
    assert CODE.fullmatch(shown), shown
    qr = dialog.locator("img").first
    qr.wait_for(timeout=SLOW)
    t.wait_for_function(
        "() => { const i = document.querySelector('[role=dialog] img'); return !!i && i.complete "
        "&& i.naturalWidth > 0; }",
        timeout=SLOW,
        polling=50,
    )
    link = dialog.locator("code").filter(has_text="class=").first.inner_text().strip()
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(link).query) == {"class": [shown.replace("-", "")]}

    bs.wait_for_link(t, "teach=")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(t.url).query)
    assert query["class"] == [shown.replace("-", "")]
    assert len(query["teach"][0]) >= 16
    lesson.code, lesson.shown, lesson.secret, lesson.link = query["class"][0], shown, query["teach"][0], link

    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="detached", timeout=SLOW)
    wait_for_bar(t, f"Class {shown}", "0 following", "nothing shown yet")
    button(t, "class_push").wait_for(timeout=SLOW)


def test_two_students_join_from_the_student_link(lesson):
    """Each student page says it follows the teacher; the teacher's bar counts both."""
    for s in lesson.students:
        s.goto(lesson.link)
    for s in lesson.students:
        wait_for_bar(s, f"Class {lesson.shown}", "following your teacher", timeout=SLOW)
        button(s, "class_explore").wait_for(timeout=SLOW)
        assert s.locator(".st-key-class_push").count() == 0  # a student leads nothing
    wait_for_bar(lesson.teacher, "2 following", "0 exploring")


def test_what_the_teacher_shows_reaches_every_following_student(lesson):
    """The teacher picks a view and a sentence and clicks "Show this to the class": both students' pages show
    them (the time it took is printed)."""
    t = lesson.teacher
    pick_view(t, "Positional encoding")
    bs.set_text(t, "c a b")
    bs.wait_idle(t)
    bs.wait_for_link(t, "view=positional", "text=c+a+b")
    clicked = push(t)
    for s, who in zip(lesson.students, "AB"):
        wait_for_view(s, "Positional encoding", "c a b")
        print(f"push -> student {who} shows it: {time.monotonic() - clicked:.2f} s")
    wait_for_bar(t, "showing this page")


def test_a_student_exploring_on_their_own_stays_until_back(lesson):
    """A student who clicks "Explore on my own" is counted exploring; a push moves the other student, not this
    one (told that the teacher shows something new); "Back to the class" brings the teacher's view."""
    t, a, b = lesson.teacher, lesson.a, lesson.b
    button(a, "class_explore").click()
    wait_for_bar(a, "exploring on your own")
    wait_for_bar(t, "1 following", "1 exploring")

    pick_view(t, "Decoding")
    bs.wait_for_link(t, "view=decoding")
    clicked = push(t)
    wait_for_view(b, "Decoding", "c a b")
    print(f"push -> the following student shows it: {time.monotonic() - clicked:.2f} s")
    a.get_by_text("Your teacher is showing something new.").wait_for(timeout=SLOW)
    bs.wait_idle(a)
    assert shows(a) == (["Positional encoding"], "c a b")  # not moved

    button(a, "class_back").click()
    wait_for_view(a, "Decoding", "c a b")
    wait_for_bar(a, "following your teacher")
    wait_for_bar(t, "2 following", "0 exploring")


def test_a_quiz_question_is_answered_by_the_class_then_revealed(lesson):
    """The teacher asks the class a quiz round: both students see the question and pick a word each; the
    teacher sees "2 answered" and how the picks spread, the students nothing of the answer; "Reveal the
    answer": each student's verdict and the model's reading, and the class's picks on every page."""
    t, a, b = lesson.teacher, lesson.a, lesson.b
    picks = {a: "German", b: "speaks"}  # a word each: the spread has two bars
    t.goto(bs.app_url(lesson.server, **{"class": lesson.code, "teach": lesson.secret, **QUIZ}))
    button(t, "class_ask").wait_for(timeout=SLOW)
    bs.wait_idle(t)
    button(t, "class_ask").click()
    t.get_by_text("0 answered").wait_for(timeout=SLOW)
    button(t, "class_reveal").wait_for(timeout=SLOW)

    for s, word in picks.items():
        pills = s.locator(".st-key-quiz_pick")
        pills.get_by_role("radio", name=word, exact=True).wait_for(timeout=SLOW)
        s.get_by_text("Pick a word:").wait_for(timeout=SLOW)
        assert s.get_by_role("heading", name="Which English word").is_visible()
        bs.wait_idle(s)
        assert bs.sentence_box(s).input_value() == QUIZ["text"]
        pills.get_by_role("radio", name=word, exact=True).click()
        s.get_by_text(f"Your answer is in: {word}").wait_for(timeout=SLOW)
    t.get_by_text("2 answered").wait_for(timeout=SLOW)
    t.wait_for_function(  # the spread: two bars of one pick each, no answer marked
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(el => (el._fullData || [])"
        ".filter(d => d.type === 'bar').flatMap(d => Array.from(d.y)).filter(y => y === 1).length === 2)",
        timeout=SLOW,
        polling=100,
    )
    for s in (a, b):
        bs.wait_idle(s)
        assert s.locator(".js-plotly-plot").count() == 0  # nothing of the answer before the reveal
        assert s.get_by_text("How the class picked").count() == 0
        assert s.get_by_text(re.compile("^(Yes|Not quite):")).count() == 0
    t.wait_for_timeout(300)  # Plotly's responsive resize after the first draw
    assert not bs.overlapping(bs.tick_boxes(t, 0, "x"))
    projected(t, "class-before-reveal")
    for page, name in ((t, "teacher"), (a, "student-a"), (b, "student-b")):
        _shot(page, f"class-before-reveal-{name}.png")

    button(t, "class_reveal").click()
    for s, word in picks.items():
        verdict = s.get_by_text(re.compile("^(Yes|Not quite): the model reads"))
        verdict.wait_for(timeout=SLOW)
        said = verdict.inner_text()
        assert said.startswith("Yes") or f"your {word} gets" in said, said  # about this student's own pick
        wait_for_figure(s, "How the class picked")
        bs.wait_idle(s)
        titles = figure_titles(s)
        assert any(x.startswith("Layer ") for x in titles), titles  # the model's reading, the student's pick
        assert s.locator(".st-key-quiz_pick button[disabled]").count() > 0  # one answer per question
    success = t.locator("[data-testid='stAlertContentSuccess']").filter(has_text="2 answers:")
    success.wait_for(timeout=SLOW)
    wait_for_figure(t, "The class's picks and the model's attention")
    bs.wait_idle(t)
    t.wait_for_timeout(300)  # Plotly's responsive resize after the first draw
    for n, title in enumerate(figure_titles(t)):  # every word readable on the teacher's (projected) page
        assert not bs.overlapping(bs.tick_boxes(t, n, "x")), title
    projected(t, "class-after-reveal")
    for page, name in ((t, "teacher"), (a, "student-a"), (b, "student-b")):
        _shot(page, f"class-after-reveal-{name}.png")


def test_a_sentence_a_student_sends_reaches_the_teacher_as_text_and_then_the_class(lesson):
    """A student sends `<b>bold?</b> 🦜` as "ana": the teacher's list shows it as text (no <b> made of it);
    "Show" puts exactly that sentence on every following student's page."""
    t, a, b = lesson.teacher, lesson.a, lesson.b
    button(b, "class_send_menu").click()
    b.locator(".st-key-class_sentence input").fill(SENT)
    b.locator(".st-key-class_nickname input").fill("ana")
    b.get_by_role("button", name="Send to the teacher").click()
    b.get_by_text("Sent: your teacher sees it").wait_for(timeout=SLOW)
    b.keyboard.press("Escape")  # the popover closes

    wait_for_bar(t, "1 sentence sent")
    button(t, "class_inbox").click()
    item = t.get_by_text(SENT, exact=True)
    item.wait_for(timeout=SLOW)
    assert t.get_by_text("ana", exact=True).is_visible()
    assert t.locator("b", has_text="bold?").count() == 0  # the student's tags stayed text
    t.locator("[class*='st-key-class_show_'] button:visible").first.click()
    for s in (a, b):
        s.wait_for_function(SENTENCE_IS_JS, arg=SENT, timeout=SLOW, polling=50)
        assert s.locator("b", has_text="bold?").count() == 0


def test_a_wrong_teacher_secret_leads_nothing(lesson):
    """A link with the class's code and a made-up secret: a student's page, told that the secret does not
    match, without the teacher's buttons."""
    page = lesson.b.context.new_page()
    try:
        page.goto(bs.app_url(lesson.server, **{"class": lesson.code, "teach": WRONG_SECRET, **TOY}))
        page.get_by_text("teacher secret does not match").wait_for(timeout=SLOW)
        wait_for_bar(page, f"Class {lesson.shown}", "following your teacher", timeout=SLOW)
        bs.wait_idle(page)
        assert page.locator(".st-key-class_push").count() == 0
        assert page.get_by_role("button", name="Show this to the class").count() == 0
        assert WRONG_SECRET not in page.url
    finally:
        page.close()
