"""A module imported on first use: ``openai = lazy_module("openai")`` reads like the module, and the import
(0.8 s for the OpenAI SDK, with pydantic) happens at the first attribute read, so commands and runs that never
call an endpoint (the offline backend, its worker processes, ``formats``, ``validate``...) do not pay for it.

Input: a module name. Output: a stand-in whose attributes are the module's. Failure modes: the module's own
``ImportError``, raised at the first attribute read instead of at import time.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        module: ModuleType = importlib.import_module(self._name)  # a dict lookup once it is imported
        return getattr(module, attribute)


def lazy_module(name: str) -> Any:
    return _LazyModule(name)
