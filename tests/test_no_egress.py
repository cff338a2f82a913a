"""Nothing leaves the machine, seen from the kernel: a long-lived S² worker under strace -f.

``offline_guard`` patches Python's sockets in the test process only; ONNX Runtime's
telemetry is a native thread in the worker child (issue #19: DNS lookups of its collector
after ~10 s, a device ID under ~/.cache/Microsoft). ``tools/no_egress.py`` runs a command
under ``strace -f`` with a fresh ``HOME`` and reports every send outside loopback and every
file left under ``HOME`` outside the data folder. Without ``ORT_DISABLE_TELEMETRY`` this test
fails (DNS lookups to the resolver, ``.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import no_egress  # noqa: E402

IMAGES = 30
MIN_SECONDS = 16.0  # ONNX Runtime's telemetry starts ~10 s into the worker's life

# The clinician's path, as the app runs it: the shipped demo Bunny (GGUF + S² vision in ONNX
# Runtime) registered through the CLI, then reports through the inference worker process,
# one per image, until IMAGES different images are done and the worker has lived MIN_SECONDS.
DRIVER = """
import sys, time
from pathlib import Path
from jradi_desktop.inference import GenerationParams, InferenceWorker
from jradi_desktop.models import ModelRegistry
from jradi_desktop.pipeline import generate_report

def main():
    images = sorted(Path(sys.argv[1]).glob("*.png"))
    with InferenceWorker(ModelRegistry().get("demo")) as worker:
        started = time.monotonic()
        worker.wait_ready()
        done = 0
        while done < len(images) or time.monotonic() - started < float(sys.argv[2]):
            result = generate_report(worker, images[done % len(images)], model_name="demo",
                                     params=GenerationParams(max_new_tokens=48))
            assert result.text.strip(), "empty report"
            done += 1
        print(f"{done} reports in {time.monotonic() - started:.1f} s, worker {worker.info['pid']}")


if __name__ == "__main__":  # the worker is a spawned child: it imports this file
    main()
"""


def _strace_or_fail() -> None:
    if shutil.which("strace"):
        return
    if os.environ.get("CI"):
        pytest.fail("strace is missing: .ci/run installs it (Debian: apt-get install strace)")
    pytest.skip("strace not installed (Debian: apt-get install strace); CI installs it")


def _chest_images(folder: Path, n: int) -> None:
    """``n`` different chest radiographs: the bundled sample, shifted and with its own noise."""
    from PIL import Image

    from jradi_desktop.imaging import open_image, render

    base = render(open_image(ROOT / "resources" / "samples" / "chest_phantom.dcm"))
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(n):
        shifted = np.roll(base, (7 * i, -5 * i), axis=(0, 1)).astype(np.int16)
        noisy = np.clip(shifted + rng.integers(-8, 9, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).resize((512, 512)).save(folder / f"chest_{i:02d}.png")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_long_s2_batch_sends_nothing_and_writes_only_the_data_folder(tmp_path):
    _strace_or_fail()
    images = tmp_path / "images"
    _chest_images(images, IMAGES)
    script = tmp_path / "driver.py"
    script.write_text(DRIVER, encoding="utf-8")
    jradi = Path(sys.executable).with_name("jradi")
    command = ["sh", "-c", f'"{jradi}" models add --demo >/dev/null && '
               f'"{sys.executable}" "{script}" "{images}" {MIN_SECONDS}']  # fmt: skip
    code, findings, output = no_egress.run(command)
    assert code == 0, output
    done = re.search(r"(\d+) reports in ([\d.]+) s", output)
    assert done and int(done[1]) >= IMAGES and float(done[2]) >= MIN_SECONDS, output
    assert findings == [], "\n".join(findings)


def test_the_check_sees_outside_sends_and_home_files(tmp_path):
    """The parser flags what the issue saw and lets loopback and local sockets through."""
    trace = "\n".join([
        '101 connect(5, {sa_family=AF_INET, sin_port=htons(53), '
        'sin_addr=inet_addr("10.255.255.53")}, 16) = 0',
        '102 sendto(7, "x", 1, 0, {sa_family=AF_INET6, sin6_port=htons(443), '
        'sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr)}, 28) = 1',
        '103 connect(3, {sa_family=AF_UNIX, sun_path="/run/x"}, 110) = 0',
        '104 connect(3, {sa_family=AF_INET, sin_port=htons(8042), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        '105 sendto(3, "abc", 3, MSG_NOSIGNAL, NULL, 0) = 3',
        '106 sendmsg(4, {msg_name={sa_family=AF_NETLINK, nl_pid=0}, msg_iov=[]}, 0) = 20',
    ])  # fmt: skip
    assert no_egress.network_findings(trace) == [
        "pid 101 connect to 10.255.255.53:53 (a DNS lookup)",
        "pid 102 sendto to 2001:db8::1:443",
    ]
    home = tmp_path / "home"
    (home / ".local/share/JRadi/logs").mkdir(parents=True)
    (home / ".local/share/JRadi/models.json").write_text("{}")
    (home / ".cache/Microsoft").mkdir(parents=True)
    (home / ".cache/Microsoft/deviceid").write_text("x")
    assert no_egress.home_findings(home) == ["wrote .cache/Microsoft/deviceid"]
