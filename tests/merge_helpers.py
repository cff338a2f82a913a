"""What the merge tests share: a JRadiEvo recipe over the demo folders, as a mapping."""


def _recipe(**changes):
    data = {
        "base": "base",
        "models": [{"path": "vlm", "role": "vlm"}, "med-a", "med-b", "ja"],
        "parameters": {"p": 0.3, "k": [0.5] * 4, "w": [0.5] * 4, "lambda": 1.0},
    }
    data.update(changes)
    return data
