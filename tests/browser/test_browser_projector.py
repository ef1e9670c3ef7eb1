"""Presentation mode on a 1920 × 1080 projector: every figure of the Anatomy walk and the Attention view keeps
the margins the app computed for its labels (the same check as tests/browser/test_browser_anatomy.py at
1280 × 720; a file of its own so that the two screen sizes run on different workers)."""

from __future__ import annotations

import pytest

from tests.support.browser import PROJECTOR, needs_en_de_default
from tests.support.margins import PAGES, assert_margins_hold, assert_the_walk_keeps_margins, page_id

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_en_de_default]


@pytest.mark.parametrize("query", PAGES, ids=page_id)
def test_computed_margins_hold_every_label_in_presentation_mode(app_server, tab, query):
    assert_margins_hold(app_server, tab, query, PROJECTOR)


def test_every_section_of_the_walk_keeps_its_margins_in_presentation_mode(app_server, tab):
    assert_the_walk_keeps_margins(app_server, tab, PROJECTOR)
