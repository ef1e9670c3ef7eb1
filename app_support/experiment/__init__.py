"""The experiment every view can show: attention heads switched off, a translation typed by a person.

    heads_off.py the set of heads switched off: its URL form (`off=cross.1.0,...`), names, checks
    results.py   what an experiment computes, cached per `app_support.run.Run`: the sentence translated
                 again with heads off, every head switched off in turn, a typed translation scored
    session.py   the experiment a session has set (`off`, `target`, `apply` in the URL), which part of
                 it each view draws, and the banner that says so above the view

The maths (teacher-forced scores, zeroing heads, the decoder input from generated ids) is in
`transformer.analysis`; the views that set the experiment are `views/heads.py` and `views/score.py`.
"""
