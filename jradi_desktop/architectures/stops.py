"""When generation ends: one stop set for every backend, derived from the model's own files.

A Llama-3 model ends a reply with ``<|eot_id|>`` (a chat turn) or ``<|end_of_text|>`` (a
document, Bunny's answers); which one its ``generation_config.json`` lists depends on who saved
it (a fine-tune saved with the base Llama-3 config lists only ``<|end_of_text|>``). llama.cpp
stops at every end-of-generation token of the vocabulary, found by their text; transformers
only at the config's ids. Both backends and the evolution's greedy decoder stop at
:func:`end_of_generation_ids`: the config's ids and every token of the vocabulary that
llama.cpp treats as an end of generation (``llama-vocab.cpp``, ``special_eog_ids``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["END_OF_GENERATION_TOKENS", "end_of_generation_ids"]

# The texts llama.cpp 0.3.36's vocabulary loader marks as end of generation (the ones that
# can occur in the families we run; Llama-3 has the first three).
END_OF_GENERATION_TOKENS = (
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|endoftext|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "</s>",
    "<EOT>",
)


def end_of_generation_ids(vocab: Mapping[str, int], eos: int | Iterable[int] | None) -> list[int]:
    """The ids that end a reply: ``eos`` (a generation config's ``eos_token_id``: one id, a
    list or None) and the vocabulary's end-of-generation tokens, sorted."""
    ids = {eos} if isinstance(eos, int) else set(eos or ())
    ids |= {vocab[text] for text in END_OF_GENERATION_TOKENS if text in vocab}
    return sorted(ids)
