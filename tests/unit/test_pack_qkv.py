"""Model directories written before W_Q, W_K, W_V became one parameter: read transparently, rewritten once."""

import torch
from safetensors.torch import load_file, save_file

from tools.pack_qkv import main as pack_main
from transformer import load_model, save_model


def unpack(path) -> None:
    """Rewrite a weights file in the old layout: each attention's w_qkv back into w_q, w_k, w_v."""
    state = load_file(str(path))
    for name in [n for n in state if ".w_qkv." in n]:
        for c, part in zip("qkv", state.pop(name).chunk(3), strict=True):
            state[name.replace(".w_qkv.", f".w_{c}.")] = part.contiguous()
    save_file(state, str(path), metadata={"format": "pt"})


def test_old_layout_loads_and_packs_to_the_same_model(tmp_path, tiny_pretrained):
    directory = save_model(tmp_path / "m", tiny_pretrained.model, tiny_pretrained.tokenizer)
    unpack(directory / "model.safetensors")
    assert any(".w_q.weight" in n for n in load_file(str(directory / "model.safetensors")))
    src, tgt = torch.tensor([[5, 6, 7, 3]]), torch.tensor([[2, 8, 9]])
    with torch.no_grad():
        expected = tiny_pretrained.model(src, tgt)
        old, _, _ = load_model(directory)
        assert torch.equal(old(src, tgt), expected)
        assert pack_main([str(directory)]) == 0
        names = set(load_file(str(directory / "model.safetensors")))
        assert not any(".w_q." in n for n in names) and any(".w_qkv." in n for n in names)
        packed, _, _ = load_model(directory)
        assert torch.equal(packed(src, tgt), expected)
    assert pack_main([str(directory)]) == 0  # already packed: nothing to do, no error
