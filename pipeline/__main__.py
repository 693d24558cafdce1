"""`python -m pipeline ...`: the same command line as `threadbrief ...`."""

from __future__ import annotations

from .cli import main

main()
