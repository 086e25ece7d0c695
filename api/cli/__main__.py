"""`python -m api.cli`: the same as the `trouw` command."""

from __future__ import annotations

import logging
import sys

from api.cli import main

if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(main())
