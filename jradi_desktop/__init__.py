"""JRadi Desktop: offline Japanese chest X-ray reports and medical QA."""

from jradi_desktop.offline import enforce_offline

enforce_offline()

__version__ = "0.1.0"
__all__ = ["__version__"]
