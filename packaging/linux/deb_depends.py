"""The ``Depends:`` line of the ``.deb``: the system libraries the frozen folder still needs.

PyInstaller bundles every shared library the app links except those that must match the
target system (glibc, the OpenGL/EGL drivers, libxcb, the Wayland client; see PyInstaller's
``dylib.py``). This walks every ELF file of the bundle, keeps the ``NEEDED`` entries that
the bundle does not hold itself, finds the Debian package that provides each on the build
machine (``ldconfig -p`` then ``dpkg -S``) and sets libc6's minimum version to the newest
``GLIBC_x.y`` symbol version any file asks for::

    python packaging/linux/deb_depends.py BUNDLE_DIR      # prints e.g. "libc6 (>= 2.34), ..."

A library the build machine lacks is reported on stderr and exits 1 (the bundle could not
have been checked against it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ALWAYS = ("libc6",)  # the versioned glibc minimum goes on this one
# Debian packages of libraries that PyInstaller leaves to the system and a build machine
# without a Wayland session may lack: used only when the library is not installed here.
KNOWN = {
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libxcb.so.1": "libxcb1",
}


def elf_files(root: Path) -> list[Path]:
    files = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    files.append(path)
    return files


def needed(path: Path) -> list[str]:
    out = subprocess.run(
        ["readelf", "-d", str(path)], capture_output=True, text=True, check=False
    ).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def glibc_version(path: Path) -> tuple[int, ...]:
    out = subprocess.run(
        ["objdump", "-T", str(path)], capture_output=True, text=True, check=False
    ).stdout
    found = re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)
    return max((tuple(int(part) for part in v.split(".")) for v in found), default=(0,))


def system_paths() -> dict[str, list[str]]:
    """Library name -> its paths in the dynamic linker's cache (all architectures)."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    paths: dict[str, list[str]] = {}
    for match in re.finditer(r"^\s*(\S+) \([^)]*\) => (\S+)$", out, re.MULTILINE):
        paths.setdefault(match.group(1), []).append(match.group(2))
    return paths


def package_of(path: str) -> str | None:
    for candidate in (path, str(Path(path).resolve())):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def depends(root: Path) -> tuple[list[str], list[str]]:
    """(Debian dependencies, libraries not found on this machine)."""
    files = elf_files(root)
    bundled = {path.name for path in root.rglob("*")}
    wanted = sorted({lib for path in files for lib in needed(path)} - bundled)
    system = system_paths()
    packages, missing = set(ALWAYS), []
    for lib in wanted:
        found = (package_of(path) for path in system.get(lib, []))
        package = next((p for p in found if p), None) or KNOWN.get(lib)
        if package is None:
            missing.append(lib)
        else:
            packages.add(package)
    glibc = max((glibc_version(path) for path in files), default=(0,))
    lines = []
    for package in sorted(packages):
        if package == "libc6" and glibc > (0,):
            lines.append(f"libc6 (>= {'.'.join(map(str, glibc))})")
        else:
            lines.append(package)
    return lines, missing


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: deb_depends.py BUNDLE_DIR", file=sys.stderr)
        return 2
    lines, missing = depends(Path(argv[0]))
    if missing:
        print(f"deb_depends: not found on this machine: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(", ".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
