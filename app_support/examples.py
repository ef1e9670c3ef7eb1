"""Curated example sentences, grouped by what they show, and the picker that offers them.

Every English example for `en-de` comes with the German a teacher would write; tests/app/test_examples.py
checks that the shipped model translates each one well at the app's default beam (chrF against that
reference, no `<unk>`, no repeated pieces, not flagged as unsure). The groups follow what German does
differently from English, which is where cross-attention has something to show: the verb in second
place, the verb at the end, the participle or infinitive at the end, gender and case, questions,
negation. Models without curated groups offer their own examples (`models.examples`) as one group.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Group:
    title: str
    shows: str  # one line: what to look at
    pairs: tuple[tuple[str, str], ...]  # (English, German reference)


CURATED: dict[str, tuple[Group, ...]] = {
    "en-de": (
        Group(
            "Verb second",
            "German keeps the verb in second place: after a time or place phrase the subject comes after "
            "the verb, so cross-attention leaves the diagonal.",
            (
                ("On Sunday we play football.", "Am Sonntag spielen wir Fußball."),
                ("Tomorrow I have no time.", "Morgen habe ich keine Zeit."),
                ("In Germany we speak German.", "In Deutschland sprechen wir Deutsch."),
                ("Now we play football.", "Jetzt spielen wir Fußball."),
            ),
        ),
        Group(
            "Verb at the end",
            "In a clause after 'dass' (that) or 'weil' (because) the verb goes to the end: watch the "
            "last German word attend back to the English verb.",
            (
                ("I know that she speaks German.", "Ich weiß, dass sie Deutsch spricht."),
                ("She says that she is tired.", "Sie sagt, dass sie müde ist."),
                ("He is happy because he has a new car.", "Er ist glücklich, weil er ein neues Auto hat."),
                ("I believe that she is at home.", "Ich glaube, dass sie zu Hause ist."),
            ),
        ),
        Group(
            "Perfect tense and modal verbs",
            "'have bought', 'can speak': German splits the two verbs and puts the participle or infinitive "
            "last, far from its English neighbour.",
            (
                ("We have bought a new car.", "Wir haben ein neues Auto gekauft."),
                ("I have seen the film.", "Ich habe den Film gesehen."),
                ("She can speak English.", "Sie kann Englisch sprechen."),
                ("We must go now.", "Wir müssen jetzt gehen."),
            ),
        ),
        Group(
            "Gender and case",
            "'the' becomes der, die, das, den or dem: the article depends on the noun after it and on its "
            "role, so the decoder must look ahead in the source.",
            (
                ("The house is old.", "Das Haus ist alt."),
                ("The dog sees the man.", "Der Hund sieht den Mann."),
                ("The cat is on the roof.", "Die Katze ist auf dem Dach."),
                ("The old man has a dog.", "Der alte Mann hat einen Hund."),
            ),
        ),
        Group(
            "Questions",
            "A yes/no question starts with the verb in both languages; 'Have you seen …?' still puts the "
            "participle last.",
            (
                ("Can you help me, please?", "Kannst du mir bitte helfen?"),
                ("Have you seen the film?", "Hast du den Film gesehen?"),
                ("Is that true?", "Ist das wahr?"),
                ("Who is that?", "Wer ist das?"),
            ),
        ),
        Group(
            "Negation",
            "'don't' has no German word of its own: 'nicht' moves towards the end and 'no' + noun becomes "
            "'kein'.",
            (
                ("I don't understand.", "Ich verstehe nicht."),
                ("The house is not old.", "Das Haus ist nicht alt."),
                ("We have no car.", "Wir haben kein Auto."),
                ("The children do not play in the garden.", "Die Kinder spielen nicht im Garten."),
            ),
        ),
    ),
}
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


def explanation(model_name: str, title: str) -> str:
    return next((g.shows for g in CURATED.get(model_name, ()) if g.title == title), "")


def picker(
    ss: MutableMapping, model_name: str, grouped: dict[str, list[str]], on_pick: Callable[[], None]
) -> None:
    """The examples as clickable pills (key "example", `on_pick` copies the choice into the sentence);
    with several groups, a group picker beside them, opened on the group of the current sentence, and
    a caption saying what the group shows (not in presentation mode)."""
    if not grouped:
        return
    if len(grouped) == 1:
        st.pills(
            "Examples",
            next(iter(grouped.values())),
            key="example",
            on_change=on_pick,
            label_visibility="collapsed",
        )
        return
    if ss.get(GROUP_KEY) not in grouped:
        ss[GROUP_KEY] = next(
            (t for t, sentences in grouped.items() if ss.get("text") in sentences), next(iter(grouped))
        )
    left, right = st.columns([1, 4], vertical_alignment="center")
    left.selectbox(
        "Example sentences",
        list(grouped),
        key=GROUP_KEY,
        label_visibility="collapsed",
        help="Curated examples this model translates well, grouped by what they show in the attention.",
    )
    with right:
        st.pills(
            "Examples",
            grouped[ss[GROUP_KEY]],
            key="example",
            on_change=on_pick,
            label_visibility="collapsed",
        )
    if not ss.get("present") and (shows := explanation(model_name, ss[GROUP_KEY])):
        st.caption(shows)
