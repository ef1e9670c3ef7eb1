"""Curated example sentences, grouped by what they show, and the picker that offers them.

Every English example for `en-de` comes with the German a teacher would write; tests/app/test_examples.py
checks that the shipped model translates each one well at the app's default beam (chrF against that
reference, no `<unk>`, no repeated pieces, not flagged as unsure). The groups follow what German does
differently from English, which is where cross-attention has something to show: the verb in second
place, the verb at the end, the participle or infinitive at the end, gender and case, questions,
negation. The sentences are data, in examples.json beside this module. Models without curated groups offer
their own examples (`models.examples`) as one group.
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st


@dataclass(frozen=True)
class Group:
    title: str
    shows: str  # one line: what to look at
    pairs: tuple[tuple[str, str], ...]  # (English, German reference)


_DATA = json.loads(Path(__file__).with_name("examples.json").read_text(encoding="utf-8"))
CURATED: dict[str, tuple[Group, ...]] = {  # model name -> its groups, in the picker's order
    model: tuple(Group(g["title"], g["shows"], tuple(map(tuple, g["pairs"]))) for g in groups)
    for model, groups in _DATA["curated"].items()
}
BY_TASK: dict[str, list[str]] = _DATA["by_task"]  # a toy model's examples, by its task (models.examples)
ENGLISH: list[str] = _DATA["english"]  # a text model's, when its metadata names none
OWN = "Examples"  # the one group of a model without curated groups
GROUP_KEY = "example_group"  # the group picker's widget key (session only: it changes no figure)


def groups(model_name: str, own: list[str]) -> dict[str, list[str]]:
    """Example sentences by group title: the curated groups of this model, else its own examples as one group."""
    curated = CURATED.get(model_name)
    if curated:
        return {g.title: [en for en, _ in g.pairs] for g in curated}
    return {OWN: list(own)} if own else {}


def flat(grouped: dict[str, list[str]]) -> list[str]:
    return [s for sentences in grouped.values() for s in sentences]


def picker(
    ss: MutableMapping, model_name: str, grouped: dict[str, list[str]], on_pick: Callable[[], None]
) -> None:
    """The examples as clickable pills (key "example", `on_pick` copies the choice into the sentence);
    with several groups, a group picker beside them, opened on the group of the current sentence, and
    a caption saying what the group shows (not in presentation mode)."""
    if not grouped:
        return
    where, title = st, next(iter(grouped))
    if len(grouped) > 1:
        if ss.get(GROUP_KEY) not in grouped:
            ss[GROUP_KEY] = next(
                (t for t, sentences in grouped.items() if ss.get("text") in sentences), title
            )
        left, where = st.columns([1, 4], vertical_alignment="center")
        left.selectbox(
            "Example sentences",
            list(grouped),
            key=GROUP_KEY,
            label_visibility="collapsed",
            help="Curated examples this model translates well, grouped by what they show in the attention.",
        )
        title = ss[GROUP_KEY]
    where.pills("Examples", grouped[title], key="example", on_change=on_pick, label_visibility="collapsed")
    shows = {g.title: g.shows for g in CURATED.get(model_name, ())}.get(title)
    if len(grouped) > 1 and not ss.get("present") and shows:
        st.caption(shows)
