"""Batched greedy decoding of a Llama language tower with a static KV cache.

Why not ``generate``: for every new token transformers runs about forty module calls per
layer, builds attention masks and grows a cache of concatenated tensors. On the small batches
of an evolution trial that bookkeeping costs more than the arithmetic (on the demo models 60%
of a trial). This decoder is the same computation with about twenty tensor operations per
layer per token, reading the live model's own parameters (so every in-place merge is seen) and
its own rotary embedding (any rope type). It takes prompt rows already embedded
(``inputs_embeds``): the caller splices the image rows in, computed once per run since the merge
never touches the image path (``engine.evolve._vlm``).

Supported: a Llama causal LM (e.g. a Bunny's ``language``), or a LLaVA-style model whose
language tower is a Llama (SiLU MLP, biases optional). ``unsupported_reason`` names what is
not; ``ReportFitness`` then falls back to ``generate``, and before using this decoder it checks
that both give the same tokens on the first batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def language_parts(model: Any) -> tuple[Any, Any, Any] | str:
    """``(tower, lm_head, text config)`` of a LLaVA-style model or a causal LM; else why not."""
    inner = getattr(model, "model", None)
    config = getattr(model, "config", None)
    if inner is None or config is None or not hasattr(model, "lm_head"):
        return f"{type(model).__name__} is neither a LLaVA-style model nor a causal LM"
    tower = getattr(inner, "language_model", None)
    text = getattr(config, "text_config", None)
    if tower is None or text is None:  # a causal LM is its own language tower
        tower, text = inner, config
    return tower, model.lm_head, text


def unsupported_reason(model: Any) -> str | None:
    """Why ``GreedyDecoder`` cannot run ``model`` (None: it can)."""
    parts = language_parts(model)
    if isinstance(parts, str):
        return parts
    tower, _, text = parts
    if getattr(text, "model_type", None) != "llama":
        return f"its language tower is {getattr(text, 'model_type', '?')!r}, not 'llama'"
    if getattr(text, "hidden_act", None) != "silu":
        return f"its MLP activation is {text.hidden_act!r}, not 'silu'"
    if getattr(text, "pretraining_tp", 1) != 1:
        return "it sets pretraining_tp"
    for name in ("embed_tokens", "layers", "norm", "rotary_emb"):
        if not hasattr(tower, name):
            return f"its language tower has no {name!r}"
    return None


def shared_prefix(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, image_token_id: int | None
) -> int:
    """How many leading tokens every row shares before its image (0: none, or padded).

    Their keys and values are computed once for the batch (the system prompt of the report
    prompt is the same for every dev image). ``image_token_id`` marks image positions, which
    are never shared.
    """
    if input_ids.shape[0] < 2 or not bool(attention_mask.bool().all()):
        return 0
    same = (input_ids == input_ids[:1]).all(0)
    if image_token_id is not None:
        same &= input_ids[0] != image_token_id
    differs = (~same).nonzero()
    return int(differs[0, 0]) if differs.numel() else input_ids.shape[1] - 1


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Llama's RMSNorm exactly as transformers computes it (float32 inside)."""
    import torch

    dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class GreedyDecoder:
    """Greedy decoding by ``model``'s language tower (check ``unsupported_reason`` first):
    a Llama causal LM, or the tower of a LLaVA-style model."""

    def __init__(self, model: Any) -> None:
        reason = unsupported_reason(model)
        if reason is not None:
            raise ValueError(f"the fast decoder cannot run this model: {reason}")
        self.model = model
        self.tower, self.lm_head, text = language_parts(model)
        self.heads = text.num_attention_heads
        self.kv_heads = text.num_key_value_heads
        self.head_dim = getattr(text, "head_dim", None) or text.hidden_size // self.heads
        self.eps = text.rms_norm_eps

    def generate(
        self,
        embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        max_new_tokens: int,
        eos_token_ids: Sequence[int],
        pad_token_id: int,
        should_stop: Callable[[], bool] | None = None,
        shared_prefix: int = 0,
    ) -> torch.Tensor:
        """New token ids ``[batch, <= max_new_tokens]``; rows that ended are padded.

        ``embeds`` is ``[batch, prompt, hidden]`` (left padding marked 0 in
        ``attention_mask``). Stops early when every row has produced an end token, or when
        ``should_stop()`` turns true (checked once per token). ``shared_prefix``: leading
        rows every row shares (``shared_prefix()`` of the batch), computed once.
        """
        import torch

        with torch.inference_mode():
            batch, prompt, _ = embeds.shape
            total = prompt + max_new_tokens
            device, dtype = embeds.device, embeds.dtype
            valid = torch.ones(batch, total, dtype=torch.bool, device=device)
            valid[:, :prompt] = attention_mask.bool()
            padded = not bool(valid.all())
            # Positions as transformers derives them from the mask: left pads do not count.
            positions = (valid.long().cumsum(-1) - 1).clamp_(min=0)
            cos, sin = self.tower.rotary_emb(embeds, positions)
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
            shape = (batch, self.kv_heads, total, self.head_dim)
            cache = [
                (
                    torch.empty(shape, dtype=dtype, device=device),
                    torch.empty(shape, dtype=dtype, device=device),
                )
                for _ in self.tower.layers
            ]
            prefill_mask = None
            if padded:  # causal and not a pad; a pad row sees itself (no empty softmax rows)
                causal = torch.ones(prompt, prompt, dtype=torch.bool, device=device).tril_()
                prefill_mask = causal & valid[:, None, :prompt]
                prefill_mask |= torch.eye(prompt, dtype=torch.bool, device=device)
                prefill_mask = prefill_mask.unsqueeze(1)

            first = shared_prefix if 0 < shared_prefix < prompt and not padded else 0
            if first:  # one row's keys and values, written to every row
                self._forward(embeds[:1, :first], 0, cache, (cos, sin), None)
            logits = self._forward(embeds[:, first:], first, cache, (cos, sin), prefill_mask)
            out = torch.full((batch, max_new_tokens), pad_token_id, dtype=torch.long, device=device)
            done = torch.zeros(batch, dtype=torch.bool, device=device)
            eos = torch.tensor(list(eos_token_ids), dtype=torch.long, device=device)
            pad = torch.full((batch,), pad_token_id, dtype=torch.long, device=device)
            embed_weight = self.tower.embed_tokens.weight
            for step in range(max_new_tokens):
                token = torch.where(done, pad, logits.argmax(-1))
                out[:, step] = token
                done |= torch.isin(token, eos)
                if step + 1 == max_new_tokens or bool(done.all()):
                    return out[:, : step + 1]
                if should_stop is not None and should_stop():
                    return out[:, : step + 1]
                end = prompt + step + 1
                mask = valid[:, None, None, :end] if padded else None
                x = torch.nn.functional.embedding(token, embed_weight).unsqueeze(1)
                logits = self._forward(x, end - 1, cache, (cos, sin), mask)
            return out

    def _forward(
        self,
        x: torch.Tensor,
        start: int,
        cache: list[tuple[torch.Tensor, torch.Tensor]],
        rotary: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """Run positions ``start ..`` through the tower; the last position's logits.

        With ``mask`` None the positions attend causally to everything before them. A batch
        of one row writes its keys and values to every row of the cache.
        """
        import torch
        from torch.nn.functional import linear, scaled_dot_product_attention, silu

        batch, length, _ = x.shape
        end = start + length
        cos, sin = rotary[0][:batch, :, start:end], rotary[1][:batch, :, start:end]
        scale = self.head_dim**-0.5
        if mask is None and length > 1 and start > 0:  # causal, aligned to the last key
            mask = torch.ones(length, end, dtype=torch.bool, device=x.device).tril_(start)
        for layer, (keys, values) in zip(self.tower.layers, cache, strict=True):
            attn, mlp = layer.self_attn, layer.mlp
            h = _rms_norm(x, layer.input_layernorm.weight, self.eps)
            q = linear(h, attn.q_proj.weight, attn.q_proj.bias)
            k = linear(h, attn.k_proj.weight, attn.k_proj.bias)
            v = linear(h, attn.v_proj.weight, attn.v_proj.bias)
            q = q.view(batch, length, self.heads, self.head_dim).transpose(1, 2)
            k = k.view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            v = v.view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            keys[:, :, start:end] = k * cos + _rotate_half(k) * sin
            values[:, :, start:end] = v
            o = scaled_dot_product_attention(
                q,
                keys[:batch, :, :end],
                values[:batch, :, :end],
                attn_mask=mask,
                is_causal=mask is None and length > 1,
                scale=scale,
                enable_gqa=self.heads != self.kv_heads,
            )
            o = o.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim)
            x = x + linear(o, attn.o_proj.weight, attn.o_proj.bias)
            h = _rms_norm(x, layer.post_attention_layernorm.weight, self.eps)
            gate = linear(h, mlp.gate_proj.weight, mlp.gate_proj.bias)
            up = linear(h, mlp.up_proj.weight, mlp.up_proj.bias)
            x = x + linear(silu(gate) * up, mlp.down_proj.weight, mlp.down_proj.bias)
        last = _rms_norm(x[:, -1], self.tower.norm.weight, self.eps)
        return linear(last, self.lm_head.weight, self.lm_head.bias)
