"""What the traffic UI loads before any run (#16: the idle stack's memory): the user types' heavy libraries come
with the first user that needs them."""

from __future__ import annotations

import subprocess
import sys

import pytest

# The traffic UI's own start: Locust first (gevent's patches), then our locustfile with every user type.
LOAD = "import locust, sys; import musicstore.traffic.locustfile; print(' '.join(sorted(sys.modules)))"


@pytest.mark.parametrize("library", ["PIL", "selenium.webdriver.remote.webdriver"])
def test_the_idle_traffic_ui_has_not_loaded(library: str) -> None:
    loaded = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, check=True, timeout=60)
    assert library not in loaded.stdout.split()


def test_the_admin_still_draws_a_png_cover() -> None:
    from musicstore.traffic.admin import generated_cover

    assert generated_cover().startswith(b"\x89PNG\r\n\x1a\n")
