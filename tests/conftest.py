"""The whole suite's stores are in the demo's time zone (a store keeps the zone it was created in:
``RENOVATION_TZ``, else the machine's), so that the tests' +08:00 times are the stores' own times on
any machine; the tests of zones themselves set others."""

from __future__ import annotations

import os

os.environ["RENOVATION_TZ"] = "Asia/Shanghai"
