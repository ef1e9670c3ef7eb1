"""What the app and a notebook compute *about* a model's run, beyond the run itself.

Tensor and array maths only, defined once here and tested here: the views call these functions and
draw what they return (`viz` draws, `app_support` shows). Each section names the idea it serves.
"""

from __future__ import annotations

# --- attention flow and the residual stream ------------------------------------------------------------
# (rollout through the encoder, cross-attention composed with it, how far the residual stream moved
# between two sentences)


# --- experiments: teacher-forced scores, heads switched off ----------------------------------------------
# (the decoder input rebuilt from generated ids, per-piece log-probabilities and ranks, batched per-row
# ablation of attention heads)
