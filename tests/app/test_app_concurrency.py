"""Sessions share one cached model: concurrent traces (one thread per session) must not mix their captures."""

from __future__ import annotations

import numpy as np
import pytest

from app_support import models
from app_support.run import Run
from tests.support.threads import at_once
from transformer import Trace, available_models

TOY = "reverse"
pytestmark = pytest.mark.skipif(TOY not in available_models(), reason=f"toy model {TOY!r} not in assets/ yet")
TEXTS = ["c a f b", "j i h g f e d", "b a", "d a d b e e c", "e", "h e a d a c h e"]


def test_concurrent_traces_equal_sequential_ones():
    """Six threads tracing different sentences on one shared model get exactly their sequential results."""
    path = str(available_models()[TOY])
    stamp = models.stamp(path)
    model = models.load_model(path, stamp)  # the one shared instance
    expected = {t: model.trace(t).attention for t in TEXTS}
    models.get_trace.clear()
    got: dict[str, Trace] = {}

    def work(text: str) -> None:
        got[text] = models.get_trace(Run(path, stamp, text, 1, 0))

    at_once(work, [(t,) for t in TEXTS])  # the captures overlap
    assert set(got) == set(TEXTS)
    for text in TEXTS:
        for kind, attn in expected[text].items():
            np.testing.assert_allclose(
                got[text].attention[kind], attn.numpy(), atol=1e-6, err_msg=f"{text}: {kind}"
            )
