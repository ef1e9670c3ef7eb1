"""Tooling around models: the FreeDict corpus extractor, checkpoint averaging, test-set BLEU/chrF
(sacrebleu), cross-attention vs. word-alignment scoring, model cards and the w_qkv rewriter, each a
command line (`python -m tools.freedict`, `tools.average`, `tools.evaluate`, `tools.alignment`,
`tools.card`, `tools.pack_qkv`), plus the GPU sweep scripts in tools/gpu/. Modules here may import
anything the project requires (pandas, plotly, sacrebleu, viz); the model package `transformer/`
never imports them, and none of them imports the training script `transformer.train`.
"""
