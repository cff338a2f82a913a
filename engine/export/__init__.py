"""HF model folder -> GGUF (language model + mmproj) for llama.cpp, with quantisation."""

from engine.export._export import ExportResult, export_gguf, iter_export_gguf
from engine.export._llama import OUTTYPES, permute_rotary, write_llama_gguf
from engine.export._mmproj import write_mmproj_gguf
from engine.export._quantize import QUANT_TYPES, quantize_gguf

__all__ = [
    "OUTTYPES",
    "QUANT_TYPES",
    "ExportResult",
    "export_gguf",
    "iter_export_gguf",
    "permute_rotary",
    "quantize_gguf",
    "write_llama_gguf",
    "write_mmproj_gguf",
]
