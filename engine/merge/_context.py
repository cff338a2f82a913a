"""The fast JRadiEvo merge: task vectors resident once, merged weights written in place.

An evolutionary search merges the same four models a thousand times with different numbers.
``MergeContext`` reads the base and the models once, keeps the base and the task vectors
resident (each on its chosen device, task vectors in float32 or a 16-bit dtype), and per
trial writes ``theta_base + lambda * tau_merged`` straight into a target (a live model's
parameters or a state dict), segment by segment and chunk by chunk. A segment is one large
tensor, or a run of consecutive small tensors (same dtype, together at most one chunk) packed
into one flat buffer, so the norms and biases of a model cost a handful of vectorised
operations instead of a dozen each (the DARE pattern still restarts at every tensor: packed
segments keep their own concatenated slice of the table). Peak extra memory is a few
chunk-sized float32 buffers, never a copy of a model. Per trial it makes one or two threshold
passes (``_select``) and one write pass; ties in the sign election (sum exactly 0) are
recorded with both candidate values during the write pass and patched once the majority sign
is known. The element-wise steps are those of ``merge_state_dicts``: same bits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.merge._dare import DARE_SEED, dare_scale, dare_table, table_keep
from engine.merge._errors import MergeError
from engine.merge._io import merge_targets, open_model_folder
from engine.merge._jradievo import (
    NO_TRIM,
    JRadiEvoParams,
    apply_merged,
    disjoint_merge,
    plain_sum,
    signed_total,
    trim_count,
    trimmed,
)
from engine.merge._segments import Segment, segments
from engine.merge._select import kth_smallest_magnitudes
from engine.merge._task_vectors import resolve_dtype, task_vector_tensor
from jradi_desktop.contract import PROGRESS, RESULT, Event

if TYPE_CHECKING:
    import torch

# Elements per chunk. On a GPU large chunks keep kernel launches few (~16 MB float32 buffers);
# on a CPU buffers that big are fresh pages from the OS for every temporary (page faults
# dominate), while ~256 KB ones are reused from the heap and stay in cache: 35% faster.
DEFAULT_CHUNK = {"cpu": 1 << 16, "gpu": 1 << 22}


@dataclass(frozen=True)
class MergeStats:
    """What one merge did: thresholds, the majority sign, ties patched, seconds."""

    thresholds: list[float | None]  # per model; None: nothing trimmed (k = 0)
    majority: int  # sign of the total of elected signs
    ties: int  # elements whose sign sum was exactly 0 with some nonzero trimmed value
    seconds: float


class MergeContext:
    """Base and task vectors held once; ``merge_into`` writes one trial's merge in place.

    ``device`` is where the arithmetic runs; ``storage`` where task vectors live (one device
    for all, or one per model, e.g. ``["cuda", "cuda", "cpu", "cpu"]`` to keep two on an 80 GB
    GPU and stream two from pinned host memory); ``base_storage`` where the base lives
    (default ``device``). ``dtype`` is the task vectors' dtype. Not thread-safe: one merge at
    a time; the context owns its tensors, the target stays the caller's.
    """

    def __init__(
        self,
        base: Mapping[str, torch.Tensor],
        models: Sequence[Mapping[str, torch.Tensor]],
        *,
        model_labels: Sequence[str] | None = None,
        base_label: str = "the base",
        dtype: str | torch.dtype = "float32",
        device: str | torch.device = "cpu",
        storage: str | torch.device | Sequence[str | torch.device] | None = None,
        base_storage: str | torch.device | None = None,
        chunk_size: int | None = None,
        seed: int = DARE_SEED,
    ) -> None:
        """Task vectors from tensors with canonical (Llama) names: state dicts, or a folder's
        lazy ``Checkpoint.tensors()`` (each tensor is read once)."""
        import torch

        n_models = len(models)
        self.dtype = resolve_dtype(dtype)
        self.device = torch.device(device)
        self.labels = list(model_labels or [f"model {i}" for i in range(n_models)])
        if len(self.labels) != n_models:
            raise MergeError(f"{len(self.labels)} model labels for {n_models} models.")
        if storage is None or isinstance(storage, str | torch.device):
            storage = [storage or self.device] * n_models
        if len(storage) != n_models:
            raise MergeError(f"{len(storage)} storage devices for {n_models} models.")
        self.storage = [torch.device(s) for s in storage]
        self.base_storage = torch.device(base_storage or self.device)
        if chunk_size is None:
            chunk_size = DEFAULT_CHUNK["cpu" if self.device.type == "cpu" else "gpu"]
        if chunk_size < 1:
            raise MergeError(f"chunk_size must be at least 1; got {chunk_size}.")
        self.chunk_size = int(chunk_size)
        self.seed = seed
        self._base: dict[str, torch.Tensor] = {}
        self._taus: list[dict[str, torch.Tensor]] = [{} for _ in range(n_models)]
        self._table: torch.Tensor | None = None
        self._pack_tables: dict[int, torch.Tensor] = {}
        self.names: list[str] = []  # the base's floating-point tensors: what the merge writes
        for name, tensor in base.items():
            if tensor.is_floating_point():
                self.names.append(name)
                self._add(name, tensor, [m.get(name) for m in models], base_label)
        self._pack()

    @classmethod
    def from_folders(
        cls,
        base_dir: str | Path,
        model_dirs: Sequence[str | Path],
        **options: Any,
    ) -> MergeContext:
        """Read the base and each model's language tower (a Llama or a VLM's) tensor by tensor.

        ``options`` are the constructor's keyword arguments.
        """
        base = open_model_folder(base_dir)
        folders = [open_model_folder(d) for d in model_dirs]
        options.setdefault("model_labels", [str(f.folder) for f in folders])
        options.setdefault("base_label", str(base.folder))
        return cls(base.tensors(), [f.tensors() for f in folders], **options)

    def _place(self, t: torch.Tensor, where: torch.device) -> torch.Tensor:
        t = t.to(where).contiguous()
        if where.type == "cpu" and self.device.type == "cuda":
            t = t.pin_memory()  # fast, asynchronous host-to-GPU copies of each chunk
        return t

    def _add(
        self, name: str, base: torch.Tensor, models: Sequence[torch.Tensor | None], base_label: str
    ) -> None:
        self._base[name] = self._place(base, self.base_storage)
        for i, model in enumerate(models):
            tau = task_vector_tensor(name, base, model, self.dtype, self.labels[i], base_label)
            if tau is not None:
                self._taus[i][name] = self._place(tau, self.storage[i])

    def _pack(self) -> None:
        """Group the tensors into segments; small ones are copied into flat buffers.

        ``_base`` and ``_taus`` then hold views into those buffers (same shapes), and a model
        that lacks some tensors of a packed segment holds zeros there (as a missing tensor
        contributes in the merge).
        """
        sizes = {n: (self._base[n].numel(), self._base[n].dtype) for n in self.names}
        self._segments = segments(sizes, self.chunk_size)
        self._flat_base = [self._flatten(s, self._base, self.base_storage) for s in self._segments]
        self._flat_taus: list[list[torch.Tensor | None]] = [  # per segment, per model
            [
                self._flatten(segment, taus, where)
                if any(n in taus for n in segment.names)  # else: no buffer at all
                else None
                for taus, where in zip(self._taus, self.storage, strict=True)
            ]
            for segment in self._segments
        ]

    def _flatten(
        self, segment: Segment, tensors: dict[str, torch.Tensor], where: torch.device
    ) -> torch.Tensor:
        """``segment``'s tensors as one flat run on ``where``: a view of a single tensor, or a
        buffer they are copied into (zeros for those ``tensors`` lacks), ``tensors`` then
        holding views into it, same shapes."""
        import torch

        if not segment.packed:
            return tensors[segment.names[0]].view(-1)
        dtype = next(tensors[n].dtype for n in segment.names if n in tensors)
        flat = torch.zeros(segment.numel, dtype=dtype)
        for name, offset, size in segment.members():
            if name in tensors:
                flat[offset : offset + size] = tensors[name].reshape(-1)
        flat = self._place(flat, where)
        for name, offset, size in segment.members():
            if name in tensors:
                tensors[name] = flat[offset : offset + size].view(tensors[name].shape)
        return flat

    def resident_tensors(self) -> list[torch.Tensor]:
        """Every tensor the context holds (flat buffers of the base and the task vectors)."""
        taus = [t for flats in self._flat_taus for t in flats if t is not None]
        return [*self._flat_base, *taus]

    @property
    def n_models(self) -> int:
        return len(self.labels)

    @property
    def numel(self) -> int:
        return sum(t.numel() for t in self._base.values())

    def resident_bytes(self) -> dict[str, int]:
        """Bytes held per device (base + task vectors), for memory planning."""
        out: dict[str, int] = {}
        for t in self.resident_tensors():
            key = str(t.device)
            out[key] = out.get(key, 0) + t.numel() * t.element_size()
        return out

    def _keep(self, k: int, start: int, count: int, p: float) -> torch.Tensor:
        """DARE's keep-mask for flat elements ``start .. start+count-1`` of segment ``k``."""
        import torch

        if self._table is None:
            longest = max((t.numel() for t in self._base.values()), default=0)
            self._table = dare_table(longest, self.seed, self.device, self.chunk_size)
        segment = self._segments[k]
        if not segment.packed:
            return table_keep(self._table, start, count, p)
        if k not in self._pack_tables:  # each packed tensor restarts the pattern
            self._pack_tables[k] = torch.cat([self._table[:n] for n in segment.sizes])
        return table_keep(self._pack_tables[k], start, count, p)

    def _chunks(self, k: int) -> Iterator[tuple[int, int]]:
        n = self._segments[k].numel
        for start in range(0, n, self.chunk_size):
            yield start, min(n, start + self.chunk_size) - start

    def _tau_chunk(self, i: int, k: int, start: int, count: int) -> torch.Tensor | None:
        tau = self._flat_taus[k][i]
        if tau is None:
            return None
        return tau[start : start + count].to(self.device, non_blocking=True)

    def thresholds(self, params: JRadiEvoParams) -> list[float]:
        """The exact global trim threshold of each model for ``params`` (``-inf``: k = 0)."""
        self._check(params)
        ranks = [trim_count(k, self.numel) for k in params.k]

        def entry(i: int, k: int, start: int, count: int, keep: torch.Tensor) -> Any:
            if not ranks[i]:
                return None  # nothing trimmed: no threshold needed
            tau = self._tau_chunk(i, k, start, count)
            return count if tau is None else tau.abs() * keep  # missing / dropped -> zeros

        def stream() -> Iterator[list[torch.Tensor | int | None]]:
            for k in range(len(self._segments)):
                for start, count in self._chunks(k):
                    keep = self._keep(k, start, count, params.p)
                    yield [entry(i, k, start, count, keep) for i in range(self.n_models)]

        found = kth_smallest_magnitudes(stream, ranks, self.dtype, self.device)
        return [NO_TRIM if t is None else t for t in found]

    def _check(self, params: JRadiEvoParams) -> None:
        if params.n_models != self.n_models:
            raise MergeError(
                f"parameters for {params.n_models} models but the context holds {self.n_models}."
            )

    def _trimmed(
        self, k: int, start: int, count: int, params: JRadiEvoParams, thresholds: list[float]
    ) -> list[torch.Tensor]:
        """Trim: each model's chunk, DARE-dropped, rescaled and trimmed below its threshold."""
        keep = self._keep(k, start, count, params.p)
        scale = dare_scale(params.p)
        return [
            trimmed(self._tau_chunk(i, k, start, count), keep, thresholds[i], scale)
            for i in range(self.n_models)
        ]

    @staticmethod
    def _ties(
        base: torch.Tensor, trims: list[torch.Tensor], total: torch.Tensor, params: JRadiEvoParams
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """Elect, undecided: the elements whose sign sum is exactly 0 with some nonzero trimmed
        value, and their merged values under each sign (patched once the majority is known)."""
        import torch

        nonzero = trims[0] != 0
        for t in trims[1:]:
            nonzero |= t != 0
        tie = ((total == 0) & nonzero).nonzero().squeeze(1)
        if not tie.numel():
            return None
        sub = [t[tie] for t in trims]
        positive, negative = (
            apply_merged(
                base[tie], disjoint_merge(sub, torch.full_like(sub[0], sign), params.w), params.lam
            )
            for sign in (1.0, -1.0)
        )
        return tie, positive, negative

    def _merge_segment(
        self,
        k: int,
        targets: Mapping[str, torch.Tensor],
        params: JRadiEvoParams,
        thresholds: list[float],
        sign_total: torch.Tensor,
    ) -> list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Merge segment ``k`` chunk by chunk into ``targets``: trim, elect each element's sign
        (adding the chunk's to ``sign_total``), merge; returns the ties to patch."""
        import torch

        fixups = []
        for start, count in self._chunks(k):
            trims = self._trimmed(k, start, count, params, thresholds)
            total = plain_sum(trims)
            sign_total.add_(signed_total(total))
            b = self._flat_base[k][start : start + count].to(self.device, non_blocking=True)
            out = apply_merged(b, disjoint_merge(trims, torch.sign(total), params.w), params.lam)
            self._segments[k].write(targets, start, out)
            ties = self._ties(b, trims, total, params)
            if ties is not None:
                tie, positive, negative = ties
                fixups.append((k, tie + start, positive, negative))
        return fixups

    def iter_merge_into(self, target: Any, params: JRadiEvoParams) -> Iterator[Event]:
        """Write the merge into ``target`` (a module or a name -> tensor mapping) in place.

        Yields a progress event per tensor and finally a ``result`` event whose data are the
        ``MergeStats`` fields. If it stops early (error, or the consumer closes the generator),
        the target holds a partly written merge.
        """
        import torch

        started = time.perf_counter()
        self._check(params)
        targets = merge_targets(target, self._base)
        total_steps = len(self._segments) + 1
        yield Event("merge", PROGRESS, "trim thresholds", 1, total_steps)
        thresholds = self.thresholds(params)
        sign_total = torch.zeros((), dtype=torch.int64, device=self.device)
        fixups: list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        with torch.no_grad():
            for k, segment in enumerate(self._segments):
                fixups += self._merge_segment(k, targets, params, thresholds, sign_total)
                label = segment.names[0] if not segment.packed else f"{len(segment.names)} tensors"
                yield Event("merge", PROGRESS, label, k + 2, total_steps)
            majority = int(torch.sign(sign_total))
            if majority:
                for k, index, positive, negative in fixups:
                    self._segments[k].write_at(
                        targets, index, positive if majority > 0 else negative
                    )
        stats = MergeStats(
            thresholds=[None if t == NO_TRIM else t for t in thresholds],
            majority=majority,
            ties=sum(int(f[1].numel()) for f in fixups),
            seconds=time.perf_counter() - started,
        )
        yield Event("merge", RESULT, "merged", total_steps, total_steps, asdict(stats))

    def merge_into(self, target: Any, params: JRadiEvoParams) -> MergeStats:
        """``iter_merge_into`` run to its end; returns the stats."""
        data: dict[str, Any] = {}
        for event in self.iter_merge_into(target, params):
            if event.kind == RESULT:
                data = event.data
        return MergeStats(**data)

    def empty_target(self, dtype: str | torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """Uninitialised CPU tensors (canonical names, the base's dtypes or ``dtype``)."""
        import torch

        dt = None if dtype is None else getattr(torch, str(dtype).removeprefix("torch."))
        return {n: torch.empty_like(t, device="cpu", dtype=dt) for n, t in self._base.items()}

    def merged_state_dict(
        self, params: JRadiEvoParams, dtype: str | torch.dtype | None = None
    ) -> dict[str, torch.Tensor]:
        """A new CPU state dict (canonical names, the base's dtypes or ``dtype``) of the merge."""
        out = self.empty_target(dtype)
        self.merge_into(out, params)
        return out
