# PyInstaller runtime hook: runs in every process of the frozen app (the window, the inference
# worker child, jradi-engine) before its entry script imports anything, so the offline and
# no-telemetry switches (jradi_desktop/offline.py: Hugging Face, ONNX Runtime) are set before
# any library that reads them loads.
from jradi_desktop.offline import enforce_offline

enforce_offline()
