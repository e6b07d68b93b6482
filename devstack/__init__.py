"""Local development stack: embedded Postgres, Redis and the Telegram emulator, plus the processes.

`python -m devstack run` (`make run`) starts everything on a machine that has only Python;
`python -m devstack phone` (`make phone`) plays a Telegram user against the emulator.
"""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Dev database, JWT key and stand-in logs; DEVSTACK_STATE_DIR moves it (tests use a temp dir).
STATE_DIR = Path(os.environ.get("DEVSTACK_STATE_DIR") or PROJECT_ROOT / ".devstack")
