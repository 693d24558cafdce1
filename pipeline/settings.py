"""Settings: what a run was asked to do (``RunConfig``), and the choices made from it and the environment:
the model, the backend (and its extractor), the cache directory, a base URL safe to write down.

Input: the command line's options and the environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
``THREADBRIEF_MODEL``, ``XDG_CACHE_HOME``). Output: a ``RunConfig`` and an ``Extractor``. Failure modes:
``ConfigError`` (exit 2) for an unknown backend, an openai backend with neither key nor base URL, or a
``language`` that is not an ISO 639-1 code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError
from .extract import Extractor
from .extract_offline import OfflineExtractor
from .extract_openai import DEFAULT_OUTPUT_BUDGET, NO_KEY, OpenAIExtractor
from .importers.base import ImportOptions
from .language import is_language_code
from .limiter import RateLimiter

DEFAULT_MODEL = "gpt-4o-mini"
NO_LLM_NOTICE = (
    "threadbrief: no OPENAI_API_KEY or OPENAI_BASE_URL set: using the offline extractor. For an LLM, set "
    "OPENAI_API_KEY (and --model), or pass --base-url for a local OpenAI-compatible server (Ollama, vLLM, llama.cpp)."
)


@dataclass
class RunConfig:
    inputs: list[Path]
    out: Path
    backend: str = "auto"
    model: str | None = None
    base_url: str | None = None
    max_chunk_tokens: int = 6000
    concurrency: int = 8
    jobs: int | None = None  # --jobs: worker processes for CPU stages (offline: whole threads); None: the cores
    cache_dir: Path | None = None
    use_cache: bool = True
    debug: bool = False
    rpm: float | None = None
    tpm: float | None = None
    output_budget: int = DEFAULT_OUTPUT_BUDGET
    prices: Path | None = None
    max_cost: float | None = None
    request_timeout: float = 120.0  # seconds one HTTP request may take
    request_deadline: float = 600.0  # seconds one request may take with all its retries
    response_format: str = "auto"  # auto: json_schema, json_object once a server rejects or ignores it
    price_factor: float = 1.0  # of the price table, for --max-cost: the Batch API bills half
    input_format: str | None = None  # --format: skip detection
    columns: dict[str, str] | None = None  # --columns: CSV field → column name
    language: str | None = None  # --language: what paraphrases and overviews are written in; None: the thread's own

    def __post_init__(self) -> None:
        if self.language is not None:
            code = self.language.strip().lower()
            if not is_language_code(code):
                raise ConfigError(
                    f"--language {self.language!r} is not an ISO 639-1 code: give two letters, such as en, de, ja "
                    "or zh, or drop --language to keep each thread's own language"
                )
            self.language = code

    @property
    def import_options(self) -> ImportOptions:
        return ImportOptions(self.input_format, self.columns)


def resolve_model(model: str | None, env: dict[str, str]) -> str:
    return model or env.get("THREADBRIEF_MODEL") or DEFAULT_MODEL


def make_extractor(config: RunConfig, env: dict[str, str]) -> tuple[Extractor, str | None]:
    """Pick the backend. Returns the extractor and a notice for stderr (or None)."""
    backend = config.backend
    notice = None
    if backend == "auto":
        backend = (
            "openai"
            if env.get("OPENAI_API_KEY", "").strip() or config.base_url or env.get("OPENAI_BASE_URL", "").strip()
            else "offline"
        )
        notice = NO_LLM_NOTICE if backend == "offline" else None
    if backend == "offline":
        return OfflineExtractor(), notice
    if backend != "openai":
        raise ConfigError(f"unknown backend {backend!r}: use auto, openai or offline")
    return openai_extractor(config, env), notice


def openai_extractor(config: RunConfig, env: dict[str, str]) -> OpenAIExtractor:
    """The openai backend, whatever ``config.backend`` says (batch mode has no other)."""
    key = env.get("OPENAI_API_KEY", "").strip()
    base_url = config.base_url or env.get("OPENAI_BASE_URL", "").strip() or None
    if not key and not base_url:
        raise ConfigError("no OPENAI_API_KEY: set it, pass --base-url, or use --backend offline")
    return OpenAIExtractor(
        model=resolve_model(config.model, env),
        api_key=key or NO_KEY,
        base_url=base_url,
        limiter=RateLimiter(config.rpm, config.tpm),
        output_budget=config.output_budget,
        max_connections=config.concurrency,
        timeout=config.request_timeout,
        max_retry_seconds=config.request_deadline,
        response_format=config.response_format,
    )


def public_url(url: str | None) -> str | None:
    """A base URL safe to write down: no user:password, no query string (tokens hide there)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
