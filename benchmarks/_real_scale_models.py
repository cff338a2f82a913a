"""Measuring and model-building pieces of ``bench_real_scale.py``: memory and time probes and
an uninitialised Llama at any widths. torch and transformers are imported when first used, so
the script can refuse a run before loading them."""

from __future__ import annotations

import argparse
import gc
import resource
import threading
import time
from collections.abc import Callable

GIB = 1024**3


def llama_numel(hidden: int, ff: int, vocab: int, heads: int, kv: int, layers: int) -> int:
    head_dim = hidden // heads
    attn = 2 * hidden * heads * head_dim + 2 * hidden * kv * head_dim
    return layers * (attn + 3 * hidden * ff + 2 * hidden) + 2 * vocab * hidden + hidden


def peak_rss_gib() -> float:
    """The process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


class RssSampler:
    """The largest resident set seen while a phase runs (psutil, sampled every 10 ms)."""

    def __init__(self) -> None:
        import psutil

        self.process, self.peak, self.stop = psutil.Process(), 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def start(self) -> RssSampler:
        self.thread.start()
        return self

    def gib(self) -> float:
        """Stop sampling; the peak in GiB."""
        self.stop.set()
        self.thread.join()
        return max(self.peak, self.process.memory_info().rss) / GIB


class Clock:
    """Wall-clock seconds, synchronising CUDA around each measurement."""

    def __init__(self, device: str) -> None:
        import torch

        self.sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def time(self, fn: Callable[[], object]) -> float:
        self.sync()
        start = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - start


def free(device: str) -> None:
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def llama(args: argparse.Namespace, layers: int, vocab: int, dtype: object) -> object:
    """An uninitialised ``LlamaForCausalLM`` at the requested widths, on the device."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.initialization import no_init_weights

    config = LlamaConfig(
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.hidden // args.heads,
        vocab_size=vocab,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=0,
    )
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with no_init_weights(), torch.device(args.device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def randomise(model: object) -> None:
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            p.fill_(1.0) if "norm" in name else p.normal_(0.0, 0.02)
