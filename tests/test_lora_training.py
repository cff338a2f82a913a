"""LoRA training (JMedLoRA): the loss lowered, kill -9 and resume, two-process DDP, and a merged
adapter exported to GGUF answering through ``jradi ask``."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from lora_helpers import ROOT, run_config, sample, write_config

from engine.data import load_instructions
from engine.lora import LoraError, parse_lora_config, train
from engine.lora._checkpoint import latest_checkpoint, list_checkpoints
from engine.lora._dataset import collate, encode
from engine.lora._prompts import instruction_prompt

# peft 0.21 reads transformers 5's deprecated ``is_gradient_checkpointing`` when it loads an
# adapter; not ours to fix (the engine silences it around its own calls).
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning")


def engine_command(*args):
    return [sys.executable, "-m", "engine.cli", *map(str, args)]


def child_env():
    # PYTHONFAULTHANDLER: a child that aborts prints where its threads were.
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return {**os.environ, **offline, "PYTHONFAULTHANDLER": "1"}


def run_child(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``command`` run to its end from the repository root, offline, its output captured."""
    return subprocess.run(
        command,
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def start_child(command: list[str], **options: Any) -> subprocess.Popen[str]:
    """``command`` started from the repository root, offline, its stdout a text pipe."""
    return subprocess.Popen(command, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE,
                            text=True, encoding="utf-8", **options)  # fmt: skip


# --- training -------------------------------------------------------------------------------


def dataset_loss(model, tokenizer, config):
    """Mean loss over all sample examples (response tokens only), dropout off."""
    data = load_instructions(*config["data"])
    encoded = [
        encode(tokenizer, instruction_prompt(e), e.output, "chat", 256, 64) for e in data.examples
    ]
    model.eval()
    with torch.no_grad():
        losses = [
            model(**collate(encoded[i : i + 10], tokenizer.pad_token_id)).loss.item()
            for i in range(0, len(encoded), 10)
        ]
    return sum(losses) / len(losses)


@pytest.mark.slow
def test_training_lowers_the_loss_on_the_sample_instructions(demo_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = run_config(demo_dir, max_steps=24, save_every=8, keep_checkpoints=2)
    result = train(parse_lora_config(config), tmp_path / "ws")
    tokenizer = AutoTokenizer.from_pretrained(demo_dir / "base")
    base = AutoModelForCausalLM.from_pretrained(demo_dir / "base")
    before = dataset_loss(base, tokenizer, config)
    tuned = PeftModel.from_pretrained(base, tmp_path / "ws" / "adapter")
    after = dataset_loss(tuned, tokenizer, config)
    print(f"sample-instruction loss: {before:.4f} before, {after:.4f} after 24 steps")
    assert after < before - 0.05
    assert result["world_size"] == 1 and len(result["losses"]) == 24
    assert [c.step for c in list_checkpoints(tmp_path / "ws")] == [16, 24]
    assert json.loads((tmp_path / "ws" / "result.json").read_text())["steps"] == 24
    with pytest.raises(LoraError, match="holds a finished run"):
        train(parse_lora_config(config), tmp_path / "ws")


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_checkpoint(demo_dir, tmp_path):
    config = run_config(demo_dir, max_steps=12, save_every=3, lora={"dropout": 0.1})
    path = write_config(tmp_path / "run.yaml", config)
    workspace = tmp_path / "ws"
    command = engine_command("lora", path, "--workspace", workspace, "--events", "jsonl")
    child = start_child(command, stderr=subprocess.DEVNULL)
    checkpointed = None
    for line in child.stdout:
        event = json.loads(line)
        if event["data"].get("event") == "checkpoint":
            checkpointed = event["step"]
        elif checkpointed and event["kind"] == "progress" and event["step"] > checkpointed:
            child.send_signal(signal.SIGKILL)  # between two checkpoints
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert not (workspace / "adapter").exists()
    last = latest_checkpoint(workspace).step
    assert checkpointed <= last < 12 and last % 3 == 0

    rerun = run_child(command, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    events = [json.loads(line) for line in rerun.stdout.splitlines()]
    resumed = [e["data"] for e in events if e["data"].get("event") == "resume"]
    print(f"killed after the checkpoint at step {last}; resumed at step {resumed[0]['step']}")
    assert resumed == [
        {
            "event": "resume",
            "step": last,
            "rng_restored": True,
            "checkpoint": str(latest_checkpoint_path(workspace, last)),
        }
    ]
    assert [e["step"] for e in events if e["kind"] == "progress"] == list(range(last + 1, 13))
    result = events[-1]
    assert result["kind"] == "result" and result["data"]["resumed_from"] == last
    assert len(result["data"]["losses"]) == 12
    assert not list((workspace / "checkpoints").glob(".step-*"))

    # The interrupted run ends where an uninterrupted one does (same batches, same RNG).
    straight = train(parse_lora_config(config), tmp_path / "straight")
    torch.testing.assert_close(result["data"]["losses"], straight["losses"], rtol=1e-4, atol=1e-5)
    from safetensors.torch import load_file

    a = load_file(workspace / "adapter" / "adapter_model.safetensors")
    b = load_file(tmp_path / "straight" / "adapter" / "adapter_model.safetensors")
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_sigint_stops_a_run_even_when_its_launcher_ignored_sigint(demo_dir, tmp_path):
    """The wizard's Stop is a SIGINT. A process started from a shell's background job inherits
    SIGINT ignored (and Python keeps ignoring it); the engine must hear it anyway."""
    path = write_config(tmp_path / "run.yaml", run_config(demo_dir, max_steps=400, save_every=3))
    command = engine_command("lora", path, "--workspace", tmp_path / "ws", "--events", "jsonl")
    child = start_child(
        command,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    for line in child.stdout:
        if json.loads(line)["kind"] == "progress":
            child.send_signal(signal.SIGINT)
            break
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr[-3000:]
    assert "cancelled" in stderr
    assert not (tmp_path / "ws" / "adapter").exists()  # stopped, not run to its end


def latest_checkpoint_path(workspace, step):
    return workspace / "checkpoints" / f"step-{step:08d}"


@pytest.mark.slow
def test_two_processes_train_together_and_write_one_adapter(demo_dir, tmp_path):
    from safetensors.torch import load_file

    path = write_config(tmp_path / "run.yaml", run_config(demo_dir, max_steps=4, save_every=2))
    workspace = tmp_path / "ws"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "engine.cli",
        "lora",
        str(path),
        "--workspace",
        str(workspace),
        "--events",
        "jsonl",
    ]
    done = run_child(command, timeout=180)
    assert done.returncode == 0, done.stderr[-8000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    starts = [e for e in events if e["data"].get("event") == "start"]
    assert len(starts) == 1 and starts[0]["data"]["world_size"] == 2  # rank 0 alone reports
    assert [e["step"] for e in events if e["kind"] == "progress"] == [1, 2, 3, 4]
    assert events[-1]["kind"] == "result" and events[-1]["data"]["world_size"] == 2
    assert sorted(p.name for p in workspace.iterdir()) == [
        "adapter",
        "checkpoints",
        "lora_config.yaml",
        "result.json",
    ]
    assert (workspace / "adapter" / "adapter_model.safetensors").is_file()
    state = load_file(latest_checkpoint_path(workspace, 4) / "trainer_state.safetensors")
    assert {"rng.0.torch", "rng.1.torch"} <= set(state)  # both processes' RNG states


@pytest.mark.slow
def test_merged_adapter_exported_to_gguf_answers_through_jradi_ask(demo_dir, tmp_path, capsys):
    from jradi_desktop.cli import main as jradi
    from jradi_desktop.inference import GenerationParams, create_backend
    from jradi_desktop.models import ModelSpec
    from jradi_desktop.pipeline import ask

    answer = "肺炎"  # one token of the demo vocabulary
    data = tmp_path / "fixed.jsonl"
    with data.open("w", encoding="utf-8") as out:
        for example in load_instructions(sample("instructions_ja.jsonl")).examples:
            record = {"instruction": example.instruction, "input": example.input, "output": answer}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    # The demo base's head is random and frozen; an adapter on lm_head too lets it learn one
    # fixed answer within a few steps, which makes the whole chain checkable.
    config = run_config(
        demo_dir,
        data=[str(data)],
        max_steps=30,
        save_every=100,
        learning_rate=2e-2,
        max_target_length=32,
        merge=True,
        gguf={"outtype": "f32"},
        lora={"target_modules": ["q_proj", "k_proj", "v_proj", "lm_head"], "dropout": 0.0},
    )
    result = train(parse_lora_config(config), tmp_path / "ws")
    merged, gguf = Path(result["merged"]), Path(result["gguf"])
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()
    assert (merged / "jradi_demo.json").is_file()  # still marked: not for clinical use
    assert not list(merged.glob("adapter_*"))  # a plain model folder
    capsys.readouterr()
    question = "成人の安静時の正常な心拍数は？"  # not one of the training prompts
    assert jradi(["ask", question, "--model", str(gguf), "--max-new-tokens", "12"]) == 0
    assert capsys.readouterr().out.strip() == answer
    # The merged folder is a plain HF model: the app's transformers backend gives the same.
    spec = ModelSpec(name="merged", kind="hf", path=merged)
    with create_backend(spec) as backend:
        assert "".join(ask(backend, question, params=GenerationParams(12))) == answer
