"""Content-hashed static files: `static('css/app.css')` → `/static/css/app.1a2b3c4d5e.css`.

Hashed names are cached for a year as immutable; anything else under /static is a 404.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


class StaticManifest:
    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root
        self.by_logical: dict[str, str] = {}
        self.by_hashed: dict[str, Path] = {}
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            logical = path.relative_to(root).as_posix()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            stem, dot, ext = path.name.partition(".")
            hashed_name = f"{stem}.{digest}{dot}{ext}" if dot else f"{stem}.{digest}"
            hashed = (path.parent.relative_to(root) / hashed_name).as_posix()
            self.by_logical[logical] = hashed
            self.by_hashed[hashed] = path

    def url(self, logical: str) -> str:
        return "/static/" + self.by_logical[logical]

    def resolve(self, name: str) -> tuple[Path, bool] | None:
        """The file for a hashed name (immutable) or a logical name (e.g. the manifest's icon)."""
        if name in self.by_hashed:
            return self.by_hashed[name], True
        if name in self.by_logical:
            return self.root / name, False
        return None
