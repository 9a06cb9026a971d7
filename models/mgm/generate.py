"""Greedy decoding with the KV cache, batched with left padding (and so also one by one)."""
from __future__ import annotations

from typing import List

import torch

from .model import TinyLM


@torch.no_grad()
def greedy(lm: TinyLM, embed_rows: List[torch.Tensor], stop_id: int, max_new_tokens: int = 64) -> List[List[int]]:
    """embed_rows: per sequence (t_i, d) prompt embeddings, visual tokens already spliced in.
    Returns the generated ids per sequence, without the stop token."""
    b = len(embed_rows)
    d = embed_rows[0].shape[-1]
    t = max(r.shape[0] for r in embed_rows)
    x = torch.zeros(b, t, d)
    mask = torch.zeros(b, t, dtype=torch.long)
    for i, r in enumerate(embed_rows):
        x[i, t - r.shape[0]:] = r
        mask[i, t - r.shape[0]:] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    logits, past = lm(x, mask, pos)
    out: List[List[int]] = [[] for _ in range(b)]
    done = [False] * b
    nxt = logits[:, -1].argmax(-1)
    next_pos = pos[:, -1] + 1
    for _ in range(max_new_tokens):
        for i in range(b):
            if not done[i]:
                if int(nxt[i]) == stop_id:
                    done[i] = True
                else:
                    out[i].append(int(nxt[i]))
        if all(done):
            break
        mask = torch.cat([mask, torch.ones(b, 1, dtype=torch.long)], dim=1)
        logits, past = lm(lm.embed(nxt).unsqueeze(1), mask, next_pos.unsqueeze(1), past)
        nxt = logits[:, -1].argmax(-1)
        next_pos = next_pos + 1
    return out
