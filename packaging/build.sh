#!/usr/bin/env bash
# Build JRadi Desktop's one-folder app and its Linux installers, and check them:
#
#   packaging/build.sh clinician     # GGUF backend only (no torch): what clinicians install
#   packaging/build.sh full          # + torch, transformers and the engine (tuning wizard)
#
# Steps: the demo model (the one shipped in resources/demo-model/: a trained demo Bunny,
# model.gguf + vision/; tools/make_demo_model.py regenerates it), the PyInstaller folder (packaging/jradi.spec), checks on its contents, the frozen app's
# --self-test (full: also a two-trial evolution with the frozen jradi-engine), a .tar.gz of
# the folder and a .deb (dpkg-deb) installing under /opt.
#
# Output in packaging/dist/ (JRADI_DIST_DIR overrides):
#   FLAVOUR/jradi-desktop/                       the folder (run ./jradi-desktop)
#   PACKAGE_VERSION_ARCH.deb                     PACKAGE: jradi-desktop or jradi-desktop-full
#   PACKAGE-VERSION-linux-ARCH.tar.gz
#   build-FLAVOUR.json                           sizes and seconds of each step
#
# The bundle's llama.cpp runs on any x86-64 CPU: it is not the dev venv's (pip compiles that one
# with -march=native) but a portable build (packaging/llama_cpp/build_wheel.sh: one CPU backend
# per CPU family, the best loaded at start), installed with the app into its own environment,
# packaging/build/venv-FLAVOUR. The folder is then checked: the core libraries use no AVX,
# and under `qemu-x86_64 -cpu Haswell` (an AVX2-only CPU; Debian's qemu-user) the frozen app
# drafts the demo report in one process (`--self-test --in-process`).
#
# Environment: PYTHON (a Python whose environment has the app, pyinstaller and, for the full
# flavour, the engine extra, used as it is: its llama.cpp is what the bundle gets; default:
# the packaging environment above), JRADI_DEMO_MODEL_DIR (another demo model folder:
# model.gguf + vision/, or a LLaVA model.gguf + mmproj.gguf), JRADI_DEB_COMPRESSION (xz, the
# default, gzip, zstd, none), JRADI_SKIP_SELF_TEST=1, JRADI_WHEEL_CACHE (build_wheel.sh).
set -euo pipefail

usage() {
    echo "usage: $0 clinician|full" >&2
    exit 2
}
[[ $# -eq 1 ]] || usage
FLAVOUR=$1
case "$FLAVOUR" in clinician | full) ;; *) usage ;; esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACKAGING=$ROOT/packaging
DIST=${JRADI_DIST_DIR:-$PACKAGING/dist}
WORK=$PACKAGING/build/$FLAVOUR
APP=jradi-desktop
PKG=$APP
[[ $FLAVOUR == full ]] && PKG=$APP-full
BUNDLE=$DIST/$FLAVOUR/$APP
INTERNAL=$BUNDLE/_internal
COMPRESSION=${JRADI_DEB_COMPRESSION:-xz}

log() { printf '\n== %s\n' "$*" >&2; }
fail() {
    printf 'build.sh: %s\n' "$*" >&2
    exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
mb() { du -sm "$1" | cut -f1; }

mkdir -p "$WORK" "$DIST"
STARTED=$(now)
declare -A TIMES

# -- 0. the packaging environment, with the portable llama.cpp ---------------------------------
T=$(now)
if [[ -n ${PYTHON:-} ]]; then
    PY=$PYTHON
    log "packaging environment: $PY (as given)"
else
    VENV=$PACKAGING/build/venv-$FLAVOUR
    log "packaging environment: $VENV (portable llama.cpp)"
    WHEEL=$(bash "$PACKAGING/llama_cpp/build_wheel.sh" "$WORK/wheels" | tail -n 1)
    EXTRAS=dev
    [[ $FLAVOUR == full ]] && EXTRAS=engine,dev
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$WHEEL" -e "$ROOT[$EXTRAS]"
    # An environment that held another build of the same version keeps it: replace it.
    "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
    PY=$VENV/bin/python
fi
BIN=$(dirname "$PY")
TIMES[environment]=$(since "$T")
[[ -x $PY ]] || fail "no Python at $PY (set PYTHON, or let build.sh make its environment)"
"$PY" -m PyInstaller --version >/dev/null 2>&1 ||
    fail "PyInstaller is missing: $PY -m pip install -e '.[dev]'"
for tool in dpkg-deb readelf objdump tar; do
    command -v "$tool" >/dev/null || fail "$tool is needed (Debian: apt-get install dpkg binutils tar)"
done
VERSION=$("$PY" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$ROOT/pyproject.toml")
ARCH=$(dpkg --print-architecture)

# -- 1. the demo model -------------------------------------------------------------------------
T=$(now)
DEMO=${JRADI_DEMO_MODEL_DIR:-$ROOT/resources/demo-model}
log "demo model: $DEMO"
[[ -f $DEMO/model.gguf ]] || fail "no model.gguf in $DEMO (tools/make_demo_model.py writes it)"
if [[ -f $DEMO/vision/manifest.json ]]; then
    DEMO_VISION=demo-model/vision/manifest.json
elif [[ -f $DEMO/mmproj.gguf ]]; then
    DEMO_VISION=demo-model/mmproj.gguf
else
    fail "no vision encoder in $DEMO (vision/ or mmproj.gguf)"
fi
TIMES[demo_model]=$(since "$T")

# -- 2. PyInstaller -------------------------------------------------------------------------------
log "PyInstaller ($FLAVOUR)"
T=$(now)
rm -rf "$BUNDLE"
JRADI_FLAVOUR=$FLAVOUR JRADI_DEMO_MODEL_DIR=$DEMO "$PY" -m PyInstaller --noconfirm --clean \
    --log-level WARN --distpath "$DIST/$FLAVOUR" --workpath "$WORK/pyinstaller" \
    "$PACKAGING/jradi.spec"
# The llama.cpp wheel ships libX.so and libX.so.0 as two copies of one file: llama_cpp opens
# the first, the libraries find each other by the second (their soname). One copy is enough.
for lib in "$INTERNAL"/llama_cpp/lib/lib*.so; do
    if [[ -f $lib.0 && ! -L $lib ]] && cmp -s "$lib" "$lib.0"; then
        ln -sf "$(basename "$lib").0" "$lib"
    fi
done
TIMES[pyinstaller]=$(since "$T")

# -- 3. what the folder must and must not hold ----------------------------------------------------
log "checking the folder"
QT=PySide6/Qt/plugins
for path in \
    llama_cpp/lib/libllama.so llama_cpp/lib/libmtmd.so \
    "$QT/platforms/libqoffscreen.so" "$QT/platforms/libqxcb.so" "$QT/platforms/libqwayland.so" \
    "$QT/imageformats/libqjpeg.so" "$QT/platforminputcontexts/libibusplatforminputcontextplugin.so" \
    jradi_desktop/ui/translations/jradi_en.qm resources/samples/chest_phantom.dcm \
    resources/fonts/ipaexg.ttf resources/fonts/IPA_Font_License_Agreement_v1.0.txt \
    demo-model/model.gguf "$DEMO_VISION" onnxruntime/capi; do
    [[ -e $INTERNAL/$path ]] || fail "missing in the folder: $path"
done
# llama.cpp: a CPU backend per CPU family, loaded at start; the libraries every CPU loads use
# the x86-64 baseline (no AVX/AVX-512 registers, no AMX tiles).
LLAMA_LIB=$INTERNAL/llama_cpp/lib
if [[ -z ${PYTHON:-} ]]; then
    for variant in x64 haswell skylakex sapphirerapids; do
        [[ -f $LLAMA_LIB/libggml-cpu-$variant.so ]] ||
            fail "missing in the folder: llama_cpp/lib/libggml-cpu-$variant.so (portable build)"
    done
    for core in libllama.so libggml.so libggml-base.so libmtmd.so; do
        wide=$(objdump -d --no-show-raw-insn "$LLAMA_LIB/$core" | grep -cE '%(y|z|t)mm[0-9]' || true)
        [[ $wide -eq 0 ]] || fail "$core uses $wide AVX/AVX-512/AMX instructions (not portable)"
    done
    echo "llama.cpp: $(compgen -G "$LLAMA_LIB/libggml-cpu-*.so" | wc -l) CPU variants; core libraries x86-64 baseline"
fi
for dist in pylibjpeg_libjpeg pylibjpeg_openjpeg pylibjpeg_rle; do
    compgen -G "$INTERNAL/$dist-*.dist-info/entry_points.txt" >/dev/null ||
        fail "missing $dist's entry points (pylibjpeg would not find the decoder)"
done
# Every module of the app's archive, for the absence check below.
"$BIN/pyi-archive_viewer" --list --recursive --brief "$BUNDLE/$APP" >"$WORK/archive.txt"
if [[ $FLAVOUR == clinician ]]; then
    for module in torch transformers tokenizers safetensors accelerate engine mergekit peft optuna; do
        [[ ! -e $INTERNAL/$module ]] || fail "$module is in the clinician folder"
        if grep -Eq "^ *$module(\.|$)" "$WORK/archive.txt"; then
            fail "$module is in the clinician executable's archive"
        fi
    done
    echo "absent as required: torch, transformers, the engine and the rest of the HF stack"
else
    [[ -x $BUNDLE/jradi-engine ]] || fail "jradi-engine is missing from the full folder"
    [[ -d $INTERNAL/torch ]] || fail "torch is missing from the full folder"
fi

# -- 4. the frozen app's self-test ---------------------------------------------------------------
if [[ ${JRADI_SKIP_SELF_TEST:-} != 1 ]]; then
    log "self-test of the frozen app"
    T=$(now)
    # Without network where a namespace can be made: the app must not need one.
    NO_NET=()
    if command -v unshare >/dev/null && unshare -rn true 2>/dev/null; then
        NO_NET=(unshare -rn)
    fi
    env -u DISPLAY -u WAYLAND_DISPLAY "${NO_NET[@]}" "$BUNDLE/$APP" --self-test ||
        fail "the frozen app's self-test failed"
    [[ ${#NO_NET[@]} -gt 0 ]] && echo "(ran without network: ${NO_NET[*]})"
    # On an AVX2-only CPU (no AVX-512): qemu-user emulates one process, and a program it
    # starts with execve runs on the real CPU. So the model runs in the app's own process
    # (--in-process, not the worker child), and the bootloader is given the environment of
    # its second stage: PyInstaller's Linux bootloader otherwise re-executes itself once to
    # set LD_LIBRARY_PATH (the _PYI_* variables tell it that it already did).
    if [[ -z ${PYTHON:-} ]] && command -v qemu-x86_64 >/dev/null; then
        log "self-test on an emulated AVX2 CPU (qemu-x86_64 -cpu Haswell)"
        if ! env -u DISPLAY -u WAYLAND_DISPLAY "${NO_NET[@]}" qemu-x86_64 -cpu Haswell \
            -E "_PYI_ARCHIVE_FILE=$BUNDLE/$APP" -E _PYI_PARENT_PROCESS_LEVEL=-1 \
            -E "_PYI_LINUX_PROCESS_NAME=$APP" -E "LD_LIBRARY_PATH=$INTERNAL" \
            "$BUNDLE/$APP" --self-test --in-process >"$WORK/selftest-haswell.txt" 2>&1; then
            grep -v "TCG doesn't support" "$WORK/selftest-haswell.txt" >&2
            fail "the frozen app's self-test failed on an AVX2 CPU (qemu-x86_64 -cpu Haswell)"
        fi
        grep -v "TCG doesn't support" "$WORK/selftest-haswell.txt"
        grep -q "variant haswell" "$WORK/selftest-haswell.txt" ||
            fail "under qemu -cpu Haswell llama.cpp did not load its haswell CPU backend"
    elif [[ -z ${PYTHON:-} ]]; then
        echo "(qemu-x86_64 not found: the AVX2 check was not run; Debian: apt-get install qemu-user)"
    fi
    if [[ $FLAVOUR == full ]]; then
        # The frozen engine end to end: demo models and data, a two-trial search (Optuna's
        # SQLite storage, the greedy decoder, Japanese ROUGE-L), the study's history.
        log "smoke test of the frozen engine"
        ENGINE=$BUNDLE/jradi-engine
        SMOKE=$WORK/engine-smoke
        rm -rf "$SMOKE"
        "${NO_NET[@]}" "$ENGINE" devices
        "${NO_NET[@]}" "$ENGINE" demo-models "$SMOKE/demo" >/dev/null
        "${NO_NET[@]}" "$ENGINE" demo-data "$SMOKE/dev" --n 4 --models "$SMOKE/demo"
        "${NO_NET[@]}" "$ENGINE" evolve "$SMOKE/dev/evolve.yaml" --workspace "$SMOKE/ws" \
            --n-trials 2 --no-export --events jsonl >"$SMOKE/evolve.jsonl" ||
            fail "the frozen engine's evolution failed"
        "${NO_NET[@]}" "$ENGINE" history --workspace "$SMOKE/ws" | tee "$SMOKE/history.txt"
        grep -q "^2 trials, 2 complete" "$SMOKE/history.txt" ||
            fail "the frozen engine's study does not hold 2 complete trials"
    fi
    TIMES[self_test]=$(since "$T")
fi

# -- 5. .tar.gz -----------------------------------------------------------------------------------
log "tar.gz"
T=$(now)
TARBALL=$DIST/$PKG-$VERSION-linux-$ARCH.tar.gz
GZIP_CMD=gzip
command -v pigz >/dev/null && GZIP_CMD=pigz
tar -C "$DIST/$FLAVOUR" --owner=0 --group=0 -cf - "$APP" | "$GZIP_CMD" -6 >"$TARBALL"
TIMES[tarball]=$(since "$T")

# -- 6. .deb -------------------------------------------------------------------------------------
log ".deb ($COMPRESSION)"
T=$(now)
STAGE=$WORK/deb
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
    "$STAGE/usr/share/mime/packages" "$STAGE/usr/share/doc/$PKG" \
    "$STAGE/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE" "$STAGE/opt/$APP"
ln -s "/opt/$APP/$APP" "$STAGE/usr/bin/$APP"
if [[ $FLAVOUR == full ]]; then
    ln -s "/opt/$APP/jradi-engine" "$STAGE/usr/bin/jradi-engine"
fi
install -m 644 "$PACKAGING/linux/jradi-desktop.desktop" "$STAGE/usr/share/applications/"
install -m 644 "$PACKAGING/linux/jradi-desktop-mime.xml" \
    "$STAGE/usr/share/mime/packages/jradi-desktop.xml"
install -m 644 "$PACKAGING/icons/jradi-desktop.svg" "$STAGE/usr/share/icons/hicolor/scalable/apps/"
for size in 16 32 48 64 128 256; do
    icon=$PACKAGING/icons/jradi-desktop-$size.png
    [[ $size == 256 ]] && icon=$PACKAGING/icons/jradi-desktop.png
    install -D -m 644 "$icon" "$STAGE/usr/share/icons/hicolor/${size}x$size/apps/jradi-desktop.png"
done
cat >"$STAGE/usr/share/doc/$PKG/copyright" <<EOF
JRadi Desktop $VERSION: Apache-2.0 (see /usr/share/common-licenses/Apache-2.0).
The folder /opt/$APP bundles Python, Qt (PySide6, LGPLv3), llama.cpp (MIT), pydicom (MIT),
pylibjpeg and its plugins (MIT; libjpeg: GPLv3, openjpeg: BSD-2-Clause) and their
dependencies under their own licences; the demo model is synthetic and not for clinical use.
EOF
chmod -R u+rwX,go+rX,go-w "$STAGE"
DEPENDS=$("$PY" "$PACKAGING/linux/deb_depends.py" "$STAGE/opt/$APP") ||
    fail "could not work out the package's dependencies"
OTHER=$APP-full
[[ $FLAVOUR == full ]] && OTHER=$APP
cat >"$STAGE/DEBIAN/control" <<EOF
Package: $PKG
Version: $VERSION
Architecture: $ARCH
Maintainer: JRadi Desktop <jradi-desktop@invalid>
Installed-Size: $(du -sk "$STAGE" --exclude=DEBIAN | cut -f1)
Depends: $DEPENDS
Recommends: fonts-noto-cjk | fonts-ipafont-gothic | fonts-vlgothic
Conflicts: $OTHER
Replaces: $OTHER
Section: science
Priority: optional
Description: offline Japanese chest X-ray report drafting
 JRadi Desktop drafts Japanese chest X-ray reports (findings and impression) and answers
 Japanese medical questions with a vision-language model run on this machine through
 llama.cpp: no network, no cloud. Drop a DICOM, PNG or JPEG image on the window.
 .
 Self-contained under /opt/$APP (Python and Qt included). A synthetic demo model and
 sample image are included; the demo model is not for clinical use.
EOF
if [[ $FLAVOUR == full ]]; then
    printf ' .\n This build also holds torch, transformers and the tuning engine.\n' \
        >>"$STAGE/DEBIAN/control"
fi
DEB=$DIST/${PKG}_${VERSION}_$ARCH.deb
dpkg-deb --root-owner-group -Z"$COMPRESSION" --build "$STAGE" "$DEB" >/dev/null
dpkg-deb --info "$DEB" >/dev/null
TIMES[deb]=$(since "$T")

# -- figures --------------------------------------------------------------------------------------
TOTAL=$(since "$STARTED")
{
    printf '{"flavour": "%s", "version": "%s", "arch": "%s",\n' "$FLAVOUR" "$VERSION" "$ARCH"
    printf ' "folder_mb": %s, "demo_model_mb": %s,\n' "$(mb "$BUNDLE")" "$(mb "$DEMO")"
    printf ' "deb_mb": %s, "tarball_mb": %s, "deb_compression": "%s",\n' \
        "$(mb "$DEB")" "$(mb "$TARBALL")" "$COMPRESSION"
    printf ' "seconds": {'
    for key in "${!TIMES[@]}"; do printf '"%s": %s, ' "$key" "${TIMES[$key]}"; done
    printf '"total": %s},\n' "$TOTAL"
    printf ' "depends": "%s"}\n' "$DEPENDS"
} >"$DIST/build-$FLAVOUR.json"
log "done in ${TOTAL} s"
cat "$DIST/build-$FLAVOUR.json"
echo "folder:  $BUNDLE"
echo "deb:     $DEB"
echo "tar.gz:  $TARBALL"
