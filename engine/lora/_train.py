"""The LoRA training job: config -> data -> model -> steps with checkpoints -> outputs.

``WORKSPACE`` holds the run: ``lora_config.yaml`` (the config it started with; a rerun must
agree with it on everything that shapes training), ``checkpoints/step-N/``, and at the end
``adapter/``, ``merged/`` (``merge: true``), ``gguf/model.gguf`` (``gguf:``) and
``result.json``. Running the same command again after a kill resumes from the newest complete
checkpoint: adapter, optimizer, scheduler, RNG states and the position in the data.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.data import load_instructions, skipped_summary
from engine.lora._checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    remove_partials,
    rng_state,
    save_checkpoint,
)
from engine.lora._config import CONFIG_FILE, LoraTrainConfig, load_lora_config
from engine.lora._dataset import BatchPlan, Encoded, collate, encode
from engine.lora._dist import (
    DistInfo,
    barrier,
    gather_objects,
    mean_across,
    setup_distributed,
    teardown,
)
from engine.lora._model import count_parameters, load_for_training, resolve_device
from engine.lora._output import merge_adapter, save_adapter
from engine.lora._prompts import instruction_prompt
from engine.lora._workspace import check_workspace, make_optimizer
from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.contract import (
    ADAPTER_DIR,
    GGUF_DIR,
    LOG,
    LORA_RESULT,
    MERGED_DIR,
    PROGRESS,
    RESULT,
    CheckpointSaved,
    DataProblems,
    Event,
    ExportingGguf,
    MergingAdapter,
    TrainProgress,
    TrainResult,
    TrainResumed,
    TrainStarted,
)

JOB = "lora"


def iter_train(config: LoraTrainConfig | str | Path, workspace: str | Path) -> Iterator[Event]:
    """Train (or resume) the run in ``workspace``; yields progress, log and result events
    (on rank 0 only when several processes train together)."""
    if not isinstance(config, LoraTrainConfig):
        config = load_lora_config(config)
    info = setup_distributed(resolve_device(config.device).startswith("cuda"))
    try:
        yield from _run(config, Path(workspace), info)
    finally:
        teardown(info)


def train(config: LoraTrainConfig | str | Path, workspace: str | Path) -> dict[str, Any]:
    """Run :func:`iter_train` to its end and return the result (rank 0; {} elsewhere)."""
    result: dict[str, Any] = {}
    for event in iter_train(config, workspace):
        if event.kind == RESULT:
            result = event.data
    return result


def _encode_all(config: LoraTrainConfig, tokenizer: Any, examples: Any) -> list[Encoded]:
    return [
        encode(
            tokenizer,
            instruction_prompt(example, config.prompt_format),
            example.output,
            config.template,
            config.max_input_length,
            config.max_target_length,
        )
        for example in examples
    ]


def _run(config: LoraTrainConfig, workspace: Path, info: DistInfo) -> Iterator[Event]:
    import torch

    main, started = info.is_main, time.monotonic()
    check_workspace(config, workspace)
    if main:
        workspace.mkdir(parents=True, exist_ok=True)
        remove_partials(workspace)
        replace_atomically(workspace / CONFIG_FILE, config.to_yaml(), private=False)
    data = load_instructions(*config.data, strict=config.strict_data)
    if main and data.problems:
        shown = [str(p) for p in data.problems[:20]]
        problems = DataProblems(len(data.problems), shown)
        yield problems.event(JOB, LOG, skipped_summary("training data", data.problems))
    device = resolve_device(config.device, info.local_rank)
    torch.manual_seed(config.seed)  # the same adapter initialisation on every process
    model, tokenizer = load_for_training(config, device)
    torch.manual_seed(config.seed + 1 + info.rank)  # dropout differs between processes
    random.seed(config.seed + info.rank)
    encoded = _encode_all(config, tokenizer, data.examples)
    accum = config.gradient_accumulation_steps
    plan = BatchPlan(len(encoded), config.batch_size, info.world_size, accum, config.seed)
    total = config.max_steps or plan.steps_for_epochs(config.epochs or 1.0)
    optimizer, scheduler, params = make_optimizer(config, model, total)
    if main:
        trainable, n_params = count_parameters(model)
        cut = sum(e.prompt_truncated or e.response_truncated for e in encoded)
        started_event = TrainStarted(len(encoded), total, device, info.world_size, trainable,
                                     n_params, cut)  # fmt: skip
        yield started_event.event(JOB, LOG, f"{len(encoded)} examples, {total} steps on {device}")
    start, losses = 0, []
    checkpoint = latest_checkpoint(workspace)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model, optimizer, scheduler, info.rank)
        start, losses = state["step"], list(state.get("losses", []))
        if main:
            where, restored = str(checkpoint.path), state["rng_restored"]
            resumed = TrainResumed(start, where, restored)
            yield resumed.event(JOB, LOG, f"resumed from step {start}", start, total)
    runner: Any = model
    if info.distributed:
        from torch.nn.parallel import DistributedDataParallel

        ids = [info.local_rank] if device.startswith("cuda") else None
        runner = DistributedDataParallel(model, device_ids=ids)
    loop_start = time.monotonic()
    for step in range(start, total):
        loss = _train_step(runner, encoded, plan, step, info, device, tokenizer.pad_token_id)
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm or math.inf)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        losses.append(mean_across(info, loss, device))
        if main and (done % config.log_every == 0 or done == total):
            elapsed = time.monotonic() - loop_start
            remaining = elapsed / (done - start) * (total - done)
            point = TrainProgress(losses[-1], lr, round(elapsed, 3), round(remaining, 3),
                                  round(plan.epoch_of(done), 4))  # fmt: skip
            message = f"step {done}/{total} loss {losses[-1]:.4f}"
            yield point.event(JOB, PROGRESS, message, done, total)
        if done % config.save_every == 0 or done == total:
            rngs = gather_objects(info, rng_state())  # every process takes part
            if main:
                extra = {"losses": losses, "total_steps": total}
                saved = save_checkpoint(workspace, done, model, optimizer, scheduler, rngs,
                                        extra, config.keep_checkpoints)  # fmt: skip
                saved_event = CheckpointSaved(done, str(saved.path))
                yield saved_event.event(JOB, LOG, f"checkpoint at step {done}", done, total)
    if main:
        save_adapter(model, tokenizer, workspace / ADAPTER_DIR)
    barrier(info)
    # Every process leaves the group here, with the interpreter whole: a process that exited
    # inside it could have gloo's threads free the last collective's tensors during interpreter
    # shutdown (SIGABRT). DDP goes first: its reducer holds the group and the gradient buckets.
    del runner
    teardown(info)
    if main:
        yield from _finish(config, workspace, info, start, total, losses, started)


def _train_step(
    runner: Any,
    encoded: list[Encoded],
    plan: BatchPlan,
    step: int,
    info: DistInfo,
    device: str,
    pad_id: int,
) -> float:
    """Forward and backward over the step's micro-batches (gradients summed, DDP synchronising
    on the last); returns this process's mean loss over them."""
    runner.train()
    accum, total = plan.accumulation, 0.0
    for a in range(accum):
        rows = [encoded[i] for i in plan.indices(step * accum + a, info.rank)]
        batch = {k: v.to(device) for k, v in collate(rows, pad_id).items()}
        skip_sync = info.distributed and a < accum - 1
        with runner.no_sync() if skip_sync else contextlib.nullcontext():
            loss = runner(**batch).loss
            (loss / accum).backward()
        total += float(loss.detach())
    return total / accum


def _finish(
    config: LoraTrainConfig,
    workspace: Path,
    info: DistInfo,
    start: int,
    total: int,
    losses: list[float],
    started: float,
) -> Iterator[Event]:
    merged = gguf_file = None
    if config.merge:
        yield MergingAdapter().event(JOB, LOG, "merging the adapter into the base model")
        merged = merge_adapter(config.base_model, workspace / ADAPTER_DIR, workspace / MERGED_DIR)
    if config.gguf is not None:
        from engine.export import export_gguf

        yield ExportingGguf().event(JOB, LOG, "exporting the merged model to GGUF")
        gguf = config.gguf
        exported = export_gguf(workspace / MERGED_DIR, workspace / GGUF_DIR, gguf.outtype,
                               gguf.quantize)  # fmt: skip
        gguf_file = exported.model
    result = TrainResult(
        adapter=str(workspace / ADAPTER_DIR),
        merged=None if merged is None else str(merged),
        gguf=None if gguf_file is None else str(gguf_file),
        steps=total,
        resumed_from=start or None,
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        world_size=info.world_size,
        prompt_format=config.prompt_format,
        template=config.template,
        seconds=round(time.monotonic() - started, 3),
        losses=losses,
    )
    summary = json.dumps(result.summary(), indent=2, ensure_ascii=False)
    replace_atomically(workspace / LORA_RESULT, summary + "\n", private=False)
    message = f"LoRA adapter written to {workspace / ADAPTER_DIR}"
    yield result.event(JOB, RESULT, message, total, total)
