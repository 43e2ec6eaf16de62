"""What a run is asked to do: one :class:`VideoJob` per video (found by :mod:`signseg.run.corpus`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VideoJob:
    """One video to segment: where it is, the id it gets, and what is known about it."""

    video_id: str
    path: Path
    label: int | None = None
    label_name: str | None = None
    signer: int | None = None

    def attrs(self) -> dict[str, Any]:
        """The group attributes this job contributes (None values are not written)."""
        return {"label": self.label, "label_name": self.label_name, "signer": self.signer}
