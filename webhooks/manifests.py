"""Read Kubernetes manifests (YAML or JSON, multi-document, files or directories)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import yaml

from webhooks import errors

Obj = dict[str, Any]
SUFFIXES = (".yaml", ".yml", ".json")
# kustomize's own files sit beside manifests but are not Kubernetes objects.
KUSTOMIZE_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


# libyaml's loader when PyYAML was built with it (about 4x faster), else the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _json_documents(text: str) -> list[Any] | None:
    """The document of a JSON text (orjson: ~100x faster than YAML for big states), else None."""
    try:
        return [orjson.loads(text)]
    except orjson.JSONDecodeError:
        return None


def parse_documents(text: str, file: str) -> list[Obj]:
    """Every object in a YAML/JSON text; `List` kinds are expanded. Empty documents are skipped."""
    docs = _json_documents(text) if text.lstrip().startswith(("{", "[")) else None
    try:
        if docs is None:
            docs = list(yaml.load_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise errors.ManifestError(file, f"not valid YAML{where}: {problem}") from None
    out: list[Obj] = []
    for number, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise errors.ManifestError(
                file, f"expected a mapping, got {type(doc).__name__}", document=number
            )
        items = doc.get("items") if str(doc.get("kind", "")).endswith("List") else None
        for item in items if isinstance(items, list) else [doc]:
            out.append(checked(item, file, number))
    return out


def checked(obj: Any, file: str, document: int) -> Obj:
    """The object itself if it has apiVersion, kind and metadata.name, else a ManifestError."""
    if not isinstance(obj, dict):
        raise errors.ManifestError(file, "a List item is not a mapping", document=document)
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj[field]:
            raise errors.ManifestError(file, f"missing or empty {field}", document=document)
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise errors.ManifestError(
            file, f"{obj['kind']} has no metadata.name; every object needs one", document=document
        )
    return obj


def files_under(path: Path) -> list[Path]:
    """The manifest files of a path: itself, or every .yaml/.yml/.json below it, sorted.

    Linked directories are followed (each real directory read once), so an example state can
    link the shipped library instead of copying it.
    """
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    seen: set[str] = set()
    for root, dirs, names in os.walk(path, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        found.extend(
            Path(root) / n
            for n in names
            if Path(n).suffix in SUFFIXES
            and n not in KUSTOMIZE_FILES
            and (Path(root) / n).is_file()
        )
    return sorted(found)


def _identity(obj: Obj) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def load(paths: Iterable[str | Path]) -> list[Obj]:
    """Every object in the given files, directories or `-` (stdin), in order."""
    out: list[Obj] = []
    for raw in paths:
        if str(raw) == "-":
            out.extend(parse_documents(sys.stdin.read(), "<stdin>"))
            continue
        path = Path(raw)
        if not path.exists():
            raise errors.ManifestError(str(path), "no such file or directory")
        for file in files_under(path):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise errors.ManifestError(str(file), f"cannot read: {exc}") from None
            out.extend(parse_documents(text, str(file)))
    return out


def without_repeats(objs: list[Obj]) -> list[Obj]:
    """The objects in order, each object that repeats another to the letter dropped: a cluster
    state assembled from paths that reach the same file twice holds it once."""
    kept: dict[tuple[str, str, str, str], list[Obj]] = {}
    out: list[Obj] = []
    for obj in objs:
        same = kept.setdefault(_identity(obj), [])
        if any(other == obj for other in same):
            continue
        same.append(obj)
        out.append(obj)
    return out
