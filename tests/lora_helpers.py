"""What the LoRA tests share: the repository root, the sample data by name, and a small run's
config on the demo base, written as YAML."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def sample(name):
    """The sample data written for the project (resources/samples), read by path."""
    return ROOT / "resources" / "samples" / name


def run_config(demo_dir, **overrides):
    """A small run on the demo base: short lengths, batch 2, a few steps."""
    config = {
        "base_model": str(demo_dir / "base"),
        "data": [str(sample("instructions_ja.jsonl"))],
        "max_input_length": 256,
        "max_target_length": 64,
        "batch_size": 2,
        "learning_rate": 1e-2,
        "max_steps": 8,
        "save_every": 4,
        "seed": 0,
    }
    config.update(overrides)
    return config


def write_config(path, config):
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path
