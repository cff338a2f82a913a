import os
import socket
import threading

import pytest
from offline_guard import OfflineViolation


def test_guard_trips_on_a_non_loopback_connect():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock, pytest.raises(OfflineViolation, match="outside loopback"):
        sock.connect(("10.255.255.1", 80))


def test_guard_trips_on_a_host_name():
    with pytest.raises(OfflineViolation):
        socket.create_connection(("huggingface.co", 443), timeout=1)


def test_guard_lets_loopback_through():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = threading.Thread(target=lambda: server.accept()[0].close())
    accepted.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    accepted.join(5)
    server.close()


def test_package_import_sets_hugging_face_offline_switches():
    import jradi_desktop  # noqa: F401

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        assert os.environ[name] == "1"
