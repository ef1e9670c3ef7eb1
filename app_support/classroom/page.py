"""Class mode on the page: joining a class, following the teacher, the class bar, inviting and collecting.

    ?class=new                      start a class (or "Start a class" in the sidebar): this page leads it
    ?class=K7WDM3QX                 a student page: it follows what the teacher shows
    ?class=K7WDM3QX&teach=SECRET    the teacher's page (the link shown once, when the class starts)

"Show this to the class" stores the teacher page's URL parameters (everything but the class, the secret and
presentation mode); a following student page notices the new version within POLL_SECONDS (a fragment that reads
one row of the store) and reruns with those parameters, as if it had opened the teacher's link. The quiz's side
of a class question is app_support.classroom.question.
"""

from __future__ import annotations

import io
import time
from urllib.parse import urlencode, urlsplit

import streamlit as st

from app_support import state
from app_support.classroom import lesson as rules
from app_support.classroom.lesson import Seat, lesson
from app_support.safe_text import count, md_code

POLL_SECONDS = 1.0  # a following page reads the class this often: a push shows within about a second
TEACHER_POLL_SECONDS = 2.0  # the teacher's counts
NOT_PUSHED = ("class", "teach", "me", "present")  # the class's own parameters, and each screen's size of type
XSRF_COOKIE = "_streamlit_xsrf"  # the browser's own cookie: the same student in every tab and after a reload

PARAMS = (
    state.Param("class", "class_code", None, rules.read_code, "a class code is 8 letters and digits, e.g. "
                "K7WD-M3QX (or new)", "the class this page is in (new: start one)"),
    state.Param("teach", "class_teach", None, rules.read_secret, "not a teacher's secret",
                "the teacher's secret: this page leads the class (only in the teacher's link)"),
    state.Param("me", "class_me", None, rules.read_student, "not a student's id",
                "a student page's own id in its class (the browser's, kept across reloads and restarts)"),
)  # fmt: skip


def browser_token(cookie: str | None) -> str | None:
    """The browser's XSRF token from its cookie. The cookie is written anew, masked with a new random mask, on
    every page load ("2|mask|masked token|time", hex): the token under the mask is what stays."""
    try:
        version, mask, masked, _ = (cookie or "").split("|")
        mask_bytes, masked_bytes = bytes.fromhex(mask), bytes.fromhex(masked)
    except ValueError:
        return cookie or None
    if version != "2" or not mask_bytes:
        return cookie
    return bytes(b ^ mask_bytes[i % len(mask_bytes)] for i, b in enumerate(masked_bytes)).hex()


def student(ss, code: str) -> str:
    """This student's id in the class (lesson.student_id), kept for the session."""
    if not ss.get("class_me"):  # kept in the URL: the same student after a reload or a server restart
        ss["class_me"] = rules.student_id(code, browser_token(st.context.cookies.get(XSRF_COOKIE)))
    return ss["class_me"]


def _session(ss) -> str:
    """This page's id for the wrong-code limit."""
    return ss.setdefault("_class_session", rules.secrets.token_hex(8))


def leave(ss) -> None:
    ss["class_code"] = ss["class_teach"] = ss["class_me"] = None
    for key in ("_class_seen", "class_follow"):
        ss.pop(key, None)


def join(ss, params) -> tuple[Seat | None, list[str]]:
    """This page's seat in the class its URL (or sidebar) names, after applying what the teacher shows to a
    following page; call before any widget. Returns (seat or None, notices)."""
    code = ss.get("class_code")
    if code is None:
        return None, []
    if code == rules.NEW:
        ss["class_code"], ss["class_teach"] = lesson().start()
        ss["_class_invite"] = True  # the invitation opens once
        ss.pop("_class_seen", None)
        code = ss["class_code"]
    found, why = lesson().find(code, _session(ss))
    if found is None:
        leave(ss)
        return None, [why]
    seat = lesson().seat(found, ss.get("class_teach"))
    notices = []
    if ss.get("class_teach") and not seat.teacher:
        ss["class_teach"] = None
        notices.append(
            f"This link's teacher secret does not match class {rules.shown(code)}: this page follows it as a "
            "student."
        )
    if not seat.teacher:
        ss.setdefault("class_follow", True)
        if ss["class_follow"] and found.version != ss.get("_class_seen"):
            if found.push is not None:
                notices += _apply(ss, params, found.push)
            ss["_class_seen"] = found.version
    return seat, notices


def _apply(ss, params, query: dict[str, str]) -> list[str]:
    """The teacher's URL parameters into this session, as a first visit with that link would set them."""
    values, notices = state.parse_query(query, params)
    for param in params:
        if param.url in NOT_PUSHED:
            continue
        if param.key in values:
            ss[param.key] = values[param.key]
        elif param.key not in state.FOUND_AT_RUN_TIME:
            ss[param.key] = param.default
    ss["_from_url"] = set(values)
    # the views' memory of the sentence they last drew (a new one resets a quiz round or a typed translation):
    # a push sets the sentence and those together, as a link does on a first visit
    ss.pop("_quiz_for", None)
    ss.pop("_target_for", None)
    return notices


def pushed_query() -> dict[str, str]:
    """What "Show this to the class" sends: this page's URL parameters but the class's own."""
    return {k: v for k, v in st.query_params.to_dict().items() if k not in NOT_PUSHED}


def student_link(code: str) -> str:
    """The student link: this server's address (as the teacher's browser reached it) with `class=CODE`."""
    url = urlsplit(st.context.url or "")
    base = f"{url.scheme}://{url.netloc}{url.path or '/'}" if url.netloc else ""
    return f"{base}?{urlencode({'class': code})}"


def qr_png(link: str) -> bytes:
    import segno  # only on the teacher's page

    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="png", scale=10, border=2)
    return buf.getvalue()


def sidebar(seat: Seat | None) -> None:
    """The sidebar's Classroom section: start a class or join one by its code (or where this page is)."""
    ss = st.session_state
    if seat is not None:
        role = "you lead it" if seat.teacher else "you are a student"
        st.caption(f"In class {rules.shown(seat.code)}: {role}.")
        if not seat.teacher:
            st.button("Leave the class", key="class_leave", on_click=leave, args=(ss,))
        return
    st.button("Start a class", key="class_start", icon=":material/co_present:", on_click=_start,
              help="Students join with a code or a QR code; you show them views and ask them questions.")  # fmt: skip
    st.text_input("Join a class", key="class_join", placeholder="Class code, e.g. K7WD-M3QX", on_change=_typed,
                  max_chars=20, help="The code your teacher shows.")  # fmt: skip
    if said := ss.pop("_class_typed", None):
        st.warning(said)


def _start() -> None:
    st.session_state["class_code"] = rules.NEW


def _typed() -> None:
    ss = st.session_state
    raw, ss["class_join"] = ss.get("class_join", ""), ""
    code = rules.read_code(raw)
    if code is None or code == rules.NEW:
        ss["_class_typed"] = (
            f"{md_code(raw, 20)} is not a class code: eight letters and digits, e.g. K7WD-M3QX."
        )
        return
    ss["class_code"], ss["class_teach"], ss["class_me"] = code, None, None


# --- the bar above the view ----------------------------------------------------------------------------------


def bar(seat: Seat) -> None:
    """The class's line above the view: the teacher's buttons, or a student's."""
    ss = st.session_state
    if ss.pop("_class_invite", False):
        invite(seat)
    with st.container(key="class_bar", horizontal=True, vertical_alignment="center"):
        if seat.teacher:
            _teacher_bar(seat)
        else:
            _student_bar(seat)


def _teacher_bar(seat: Seat) -> None:
    _teacher_counts(seat.code)
    st.button("Show this to the class", key="class_push", type="primary", icon=":material/cast:",
              on_click=_push, args=(seat,), help="Every student page that follows the class shows this view, "
              "this sentence and these settings within about a second.")  # fmt: skip
    if st.button("Invite", key="class_invite", icon=":material/qr_code_2:"):
        invite(seat)
    # opening it reruns the page: the list is read then (the counts above refresh on their own, this does not)
    with st.popover("Sentences", icon=":material/inbox:", key="class_inbox", on_change="rerun"):
        _inbox(seat)
    with st.popover("End", icon=":material/logout:", key="class_end_menu"):
        st.write("End the class for everyone? Student pages stop following; answers and sentences are deleted "
                 "when the class expires.")  # fmt: skip
        st.button("End the class", key="class_end", on_click=_end, args=(seat,))


@st.fragment(run_every=TEACHER_POLL_SECONDS)
def _teacher_counts(code: str) -> None:
    """Who is here, refreshed on its own: how many follow, how many explore, sentences waiting."""
    state_ = lesson().state(code)
    if state_ is None:
        st.rerun()
    following, exploring = lesson().presence(code)
    waiting = len(lesson().store.sentences(code))
    shown = (
        "nothing shown yet"
        if state_.push is None
        else "showing this page"
        if state_.push == pushed_query()
        else "showing another page"
    )
    st.markdown(
        f"**Class {rules.shown(code)}** · {shown}  \n{following} following · {exploring} exploring"
        + (f" · {count(waiting, 'sentence')} sent" if waiting else ""),
        width="content",
    )


def _push(seat: Seat) -> None:
    lesson().push(seat, pushed_query())  # the bar says "showing this page" on this rerun


def _end(seat: Seat) -> None:
    lesson().end(seat)
    leave(st.session_state)


@st.dialog("Invite the class", width="large")
def invite(seat: Seat) -> None:
    """The code, the student link and its QR code, big enough to read off a projector; the teacher link apart."""
    link = student_link(seat.code)
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        st.markdown(f"## Class code: `{rules.shown(seat.code)}`")
        st.markdown("Scan the code, or open this link:")
        st.code(link, language=None)
        st.caption(
            "Or open the app and type the class code under *Classroom* in the sidebar. Students need no account "
            "and no name."
        )
    if link.startswith("http"):
        right.image(qr_png(link), caption="The student link", width=300)
    with st.expander("Your teacher link: keep it off the projector"):
        teacher = f"{link}&{urlencode({'teach': st.session_state['class_teach']})}"
        st.code(teacher, language=None)
        st.caption(
            "It leads the class: open it to lead from another browser or after closing this tab. Anyone with it "
            f"can lead the class until it ends ({rules.CLASS_HOURS:g} hours after it started)."
        )


def _inbox(seat: Seat) -> None:
    """The sentences students sent: each shown as text, on the class only when the teacher picks it."""
    sent = lesson().store.sentences(seat.code)
    if not sent:
        st.caption("Sentences students send appear here. None reaches the class unless you show it.")
        return
    for s in sent:
        with st.container(horizontal=True, vertical_alignment="center"):
            who = md_code(s.nickname, 30) if s.nickname else "a student"
            st.markdown(f"{md_code(s.text, rules.SENTENCE_CHARS)} — {who}", width="stretch")
            st.button("Show", key=f"class_show_{s.id}", on_click=_show_sentence, args=(seat, s.id, s.text),
                      help="Show this sentence to the class, in the view you are on.")  # fmt: skip
            st.button("Dismiss", key=f"class_drop_{s.id}", icon=":material/close:", on_click=lesson().dismiss,
                      args=(seat, s.id))  # fmt: skip


def _show_sentence(seat: Seat, sentence_id: int, text: str) -> None:
    ss = st.session_state
    ss["text"] = text
    query = {**pushed_query(), "text": text}
    query.pop("qpiece", None)  # a quiz round belongs to the sentence it was asked on
    lesson().push(seat, query)
    lesson().dismiss(seat, sentence_id)


def _student_bar(seat: Seat) -> None:
    ss = st.session_state
    student_ = student(ss, seat.code)
    following = ss.get("class_follow", True)
    _watch(seat.code, student_)
    says = "following your teacher" if following else "exploring on your own"
    st.markdown(f"**Class {rules.shown(seat.code)}** · {says}", width="content")
    if following:
        st.button("Explore on my own", key="class_explore", on_click=_follow, args=(False,),
                  icon=":material/explore:", help="Your page stops following the teacher until you come back.")  # fmt: skip
    else:
        st.button("Back to the class", key="class_back", on_click=_follow, args=(True,), type="primary",
                  icon=":material/groups:")  # fmt: skip
    with st.popover("Send a sentence", icon=":material/send:", key="class_send_menu"):
        with st.form("class_send", clear_on_submit=True, border=False):
            st.text_input(
                "A sentence for your teacher to try", key="class_sentence", max_chars=rules.SENTENCE_CHARS
            )
            st.text_input("Nickname (optional)", key="class_nickname", max_chars=rules.NICKNAME_CHARS)
            sent = st.form_submit_button("Send to the teacher")
        if sent:
            why = lesson().send(seat, student_, ss.get("class_nickname", ""), ss.get("class_sentence", ""))
            (st.warning if why else st.success)(
                why or "Sent: your teacher sees it and may show it to the class."
            )


def _follow(on: bool) -> None:
    ss = st.session_state
    ss["class_follow"] = on
    ss.pop("_class_seen", None)  # back: what the teacher shows now
    ss["_class_reported"] = 0.0  # the teacher's count changes at once


@st.fragment(run_every=POLL_SECONDS)
def _watch(code: str, student: str) -> None:
    """A student page's poll: one read of the class; a rerun of the page when the teacher shows something new
    (or reveals), a line saying so to a page exploring on its own, and a report every REPORT_EVERY seconds."""
    ss = st.session_state
    found = lesson().state(code)
    if found is None:  # ended or expired: the page says so on its next run
        st.rerun()
    following = ss.get("class_follow", True)
    now = time.time()
    if now - ss.get("_class_reported", 0.0) >= rules.REPORT_EVERY:
        lesson().report(code, student, following)
        ss["_class_reported"] = now
    if found.version != ss.get("_class_seen"):
        if following:
            st.rerun()
        st.caption("Your teacher is showing something new.", width="content")
