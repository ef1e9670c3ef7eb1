"""Training a Transformer live, in front of the class: what a run is (`spec`), the server's queue of
training processes (`runner`) and the process that trains (`worker`). The Train view
(app_support/views/train.py) draws it."""
