"""(the importer lands in its own commit)"""

from __future__ import annotations

from .base import Format

FORMATS: tuple[Format, ...] = ()
