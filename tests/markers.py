"""Skip conditions several test files share."""

from __future__ import annotations

import pytest

from phone_standin.testing import find_adb

#: The tests that drive the real adb server: skipped, saying why, where there is none.
needs_adb = pytest.mark.skipif(
    find_adb() is None, reason="no `adb` on PATH (apt-get install adb, or set DEVICELAB_ADB)"
)
