"""Pure visualisation of a Transformer trace: dense arrays -> figures (Plotly, and HTML/SVG/PNG for the
Attention view's heatmap and the head view); tidy frames for CSV. `import viz` imports no torch.

Nothing here imports streamlit, so every figure works in a notebook::

    import viz
    # trace: anything with .src_tokens, .tgt_tokens, .attention, .embeddings, .hidden, .probs
    enc, cross = trace.attention["encoder"], trace.attention["cross"]   # (layers, heads, q_len, k_len)
    src, tgt = trace.src_tokens, trace.tgt_tokens                       # pieces read on each side
    # one head's heatmap is described once (viz.AttentionMap) and drawn four ways
    m = viz.attention_map(viz.head_weights(enc, 0, 1), src, src, kind="encoder", layer=0, head=1)
    viz.attention_heatmap(m).show()                                     # Plotly
    from IPython.display import HTML
    HTML(viz.attention_html(m))     # the app's Attention heatmap: HTML + CSS, no Plotly (hover a cell)
    open("L0_H1.svg", "w").write(viz.attention_svg(m))                  # files for slides
    open("L0_H1.png", "wb").write(viz.attention_png(m, scale=2))
    viz.attention_heatmap(viz.attention_map(viz.head_weights(cross, 1, viz.MEAN_HEAD), tgt, src,
                          kind="cross", layer=1, head=viz.MEAN_HEAD, rows="both")).show()  # "▁Der → ▁alt"
    w, q_pos, k_pos = viz.hide_specials(viz.head_weights(enc, 0, 1), src, src, kind="encoder")
    viz.attention_heatmap(viz.attention_map(w, src, src, kind="encoder", q_pos=q_pos, k_pos=k_pos)).show()
    viz.model_view(enc, src, src, kind="encoder").show()                 # every layer × head
    HTML(viz.head_view(enc[0], src, src, kind="encoder", layer=0, heads=[0, 1]))  # bertviz lines, SVG:
    # hover a piece for only its lines (CSS, no script); the string saved as .svg goes on a slide
    viz.matrix_heatmap(q_vectors, src, title="Q", row_title="query", col_title="dim").show()  # any matrix

    viz.cross_attention_step(cross, tgt, src, step=2).show()
    top = viz.topk_frame(trace.probs, k=10, id_to_piece=tokenizer.id_to_piece)
    viz.topk_bar(top, step=2).show()
    frames = viz.trace_attention_frames(trace)      # {"encoder"|"decoder"|"cross": tidy frame}, for CSV

    viz.pe_heatmap(viz.sinusoidal_pe(64, 128)).show()
    e = trace.embeddings
    viz.embedding_sum_view(e["src_token"], e["src_position"], e["src_input"], trace.src_tokens).show()
    paths = viz.projection_frame(trace.hidden["encoder"], trace.src_tokens, "pca")
    viz.token_path(paths, positions=1).show()

    # experiments (viz.experiments): heads switched off, a translation typed by a person
    viz.translation_diff(original_pieces, ablated_pieces).show()    # changed pieces marked
    viz.piece_logprob_bars(predicted_pieces, logp_before, logp_after).show()
    viz.piece_scores_bar(viz.piece_score_frame(pieces, logp, rank, top_pieces, top_logp)).show()
    viz.head_effect_grid(table).show()      # app_support.experiment.results.head_effects: layer × head per kind

    # minimal pairs: the maths (pairing positions, differences, rollout) is transformer.analysis's
    from transformer import analysis
    p = analysis.pair_positions(a.src_tokens, b.src_tokens)
    viz.stream_shift_heatmap(analysis.stream_shift(a.hidden["encoder"], b.hidden["encoder"], p),
                             p.labels(a.src_tokens, b.src_tokens)).show()

A decoder row (decoder self-attention, cross-attention) reads piece t and predicts piece t + 1;
`rows` ("read", "predicted", "both"; default per kind) says which labels it (`viz.labels`).
Layers and heads are 0-based tensor indices everywhere ("L0 H3"); hidden-state stage 0 is
the embedding + PE input and stage l is the output of layer L{l-1}. Every figure function
takes `font_size` and `height` (bigger fonts = presentation mode; the head view's SVG grows with its
pieces instead; a heatmap's font is its `attention_map`'s) and escapes token text. Colours, the one
measure of text width and the XML/Plotly escaping every figure shares are `viz.style`.
"""

from transformer.kinds import ROW_LABELS
from viz.attention import attention_heatmap, model_view
from viz.attention_files import attention_png, attention_svg
from viz.attention_html import attention_html
from viz.decoding import cross_attention_step, self_attention_step, topk_bar
from viz.embeddings import (
    nearest_neighbours,
    project_2d,
    projection_frame,
    projection_scatter,
    stage_labels,
    token_path,
)
from viz.experiments import (
    align_pieces,
    head_effect_grid,
    piece_logprob_bars,
    piece_score_frame,
    piece_scores_bar,
    translation_diff,
)
from viz.frames import (
    ATTENTION_COLUMNS,
    MEAN_HEAD,
    SPECIAL_TOKENS,
    Shown,
    as_array,
    attention_frame,
    average_heads,
    embedding_sum_frame,
    head_summary_frame,
    head_weights,
    hide_specials,
    pe_frame,
    pe_similarity_frame,
    pe_similarity_matrix,
    row_shares,
    select_head,
    token_labels,
    topk_frame,
    trace_attention_frames,
)
from viz.head_roles import head_roles_frame, head_roles_grid, role_colours
from viz.head_view import head_view, svg_page, svg_size
from viz.heatmap import AttentionMap, attention_map
from viz.labels import predicted_pieces, query_labels, row_mode, row_pieces, side_tokens
from viz.matrix import masked_scores, matrix_heatmap
from viz.pairs import difference_heatmap, stream_shift_heatmap
from viz.positional import embedding_sum_view, pe_heatmap, pe_similarity, sinusoid_curves, sinusoidal_pe
from viz.quiz import class_picks, quiz_reveal
from viz.training import training_curves, training_frame

__all__ = [
    "ATTENTION_COLUMNS", "AttentionMap", "MEAN_HEAD", "ROW_LABELS", "SPECIAL_TOKENS", "Shown", "align_pieces",
    "as_array", "attention_frame", "attention_heatmap", "attention_html", "attention_map", "attention_png",
    "attention_svg", "average_heads", "class_picks", "cross_attention_step", "difference_heatmap", "embedding_sum_frame",
    "embedding_sum_view", "head_effect_grid", "head_roles_frame", "head_roles_grid", "head_summary_frame", "head_view", "head_weights", "hide_specials",
    "masked_scores", "matrix_heatmap", "model_view", "nearest_neighbours", "pe_frame", "pe_heatmap",
    "pe_similarity", "pe_similarity_frame", "pe_similarity_matrix", "piece_logprob_bars", "piece_score_frame",
    "piece_scores_bar", "predicted_pieces", "project_2d", "projection_frame", "projection_scatter",
    "query_labels", "quiz_reveal", "role_colours", "row_mode", "row_shares", "row_pieces", "select_head", "self_attention_step", "side_tokens",
    "sinusoid_curves", "sinusoidal_pe", "stage_labels", "stream_shift_heatmap", "svg_page", "svg_size",
    "token_labels", "token_path", "topk_bar", "topk_frame", "trace_attention_frames", "training_curves",
    "training_frame", "translation_diff",
]  # fmt: skip
