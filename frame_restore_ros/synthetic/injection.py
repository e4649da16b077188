"""``--inject SPEC``: seeded synthetic failures for replay and evaluation, with ground truth.

SPEC is a comma-separated list of failure items; each damaged frame gets one item, drawn at
random. Items (``registry.FAILURES``):

  patches:R    the paper's random patch masking, fraction R of the model's patch grid (0-1)
  dead[:N] | saturated[:N] | noise[:N] | cast[:N]
               N rectangles of that kind (default 1-3, drawn), 8-30 % of each side
  lines[:N]    N bands of dead rows (default 8);  columns[:N] the same as columns
  frozen       2 rectangles still showing the camera's previous frame
  freeze[:N]   tiles (16-pixel aligned) frozen on the previous frame for N frames (default 1-3)
  bottom       transmission loss: every row from a random start to the bottom, gray or green
  bottom_black the same filled black;  smear  the last good row repeated to the bottom
  whole        the whole frame lost
  blockage[:N] N dark soft-edged blobs on the lens (values 0-8 with sensor noise; default 1)
  mud[:N]      N brown, blotchy, soft-edged blobs (default 1)
  veil         a semi-transparent gray veil;  drops[:N]  N water drops (default 8)
               (blended: failed where the blend weight is at least 0.5)
  night_noise[:N]  N rectangles of gain noise scaled to their brightness (default 1)
  repeat       the previous frame published again (no failed pixel)

Example: ``patches:0.5,dead,lines,bottom,mud,freeze``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frame_restore_ros.synthetic.corruption import Corruption, FreezeEpisode
from frame_restore_ros.synthetic.registry import FAILURES, Context, SyntheticFailure, Value


@dataclass(frozen=True)
class InjectionItem:
    """One failure of the registry with its number (``dead:2``, ``patches:0.5``)."""

    name: str
    value: float | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value:g}"

    @property
    def failure(self) -> SyntheticFailure:
        """The registry entry (its FailureKind and generator)."""
        return FAILURES[self.name]

    def apply(
        self,
        frame: np.ndarray,
        rng: np.random.Generator,
        *,
        previous: np.ndarray | None = None,
        grid: tuple[int, int] | None = None,
    ) -> Corruption:
        """Damage ``frame`` (H, W, 3) uint8.

        ``previous`` (the camera's previous real frame, (H, W, 3)) is needed by ``frozen``,
        ``freeze`` and ``repeat``, ``grid`` (the model's patch grid, (rows, cols)) by
        ``patches``. A lasting failure returns its next frames as ``Corruption.episode``.
        """
        return self.failure.generate(frame, rng, Context(self.value, previous, grid))


def parse_item(text: str) -> InjectionItem:
    """Parse one SPEC item such as ``dead``, ``lines:3`` or ``patches:0.5``."""
    name, _, value = text.strip().partition(":")
    name = name.strip().lower()
    if name not in FAILURES:
        raise ValueError(
            f"unknown failure {name!r} in --inject; choose from {', '.join(FAILURES)}"
        )
    takes = FAILURES[name].value
    if takes is Value.RATIO:
        try:
            ratio = float(value)
        except ValueError:
            raise ValueError(f"{name} needs a ratio, e.g. {name}:0.5, got {text!r}") from None
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"{name} ratio must be in (0, 1], got {ratio}")
        return InjectionItem(name, ratio)
    if takes is Value.COUNT and value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{name} takes a positive count, got {text!r}")
        return InjectionItem(name, float(value))
    if value:
        raise ValueError(f"{name} takes no value, got {text!r}")
    return InjectionItem(name)


@dataclass(frozen=True)
class InjectionSpec:
    """Parsed SPEC plus how often frames are damaged (``rate``) and the seed."""

    items: tuple[InjectionItem, ...]
    rate: float = 0.5
    seed: int = 0

    @classmethod
    def parse(cls, text: str, rate: float = 0.5, seed: int = 0) -> InjectionSpec:
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"--inject-rate must be in (0, 1], got {rate}")
        parts = [p for p in text.split(",") if p.strip()]
        if not parts:
            raise ValueError("--inject needs at least one failure, e.g. patches:0.5")
        return cls(tuple(parse_item(p) for p in parts), rate, seed)

    def __str__(self) -> str:
        return ",".join(str(item) for item in self.items)


class Injector:
    """Damages a stream of one camera's frames; deterministic given the spec and camera name.

    A lasting failure (``freeze:3``) continues on the next frames before any new draw.
    """

    def __init__(
        self, spec: InjectionSpec, grid: tuple[int, int], camera: str = "", lead_in: int = 1
    ) -> None:
        self.spec = spec
        self.grid = grid
        self.lead_in = lead_in
        seed = [spec.seed, *camera.encode()]
        self.rng = np.random.default_rng(seed)
        self._previous: np.ndarray | None = None
        self._since_start = 0  # frames since the stream's start or resolution change
        self._episode: tuple[FreezeEpisode, InjectionItem] | None = None

    def __call__(self, frame: np.ndarray) -> tuple[Corruption | None, InjectionItem | None]:
        """Return (corruption, item) for a damaged frame, (None, None) for one left clean.

        The first ``lead_in`` frames (at least one) of a stream, and of it after a resolution
        change, are left clean: the reference, and the detector's warm-up (its
        ``onset_warmup_frames``: a deployed node streams far longer than that).
        """
        previous = self._previous
        self._previous = frame
        if previous is None or previous.shape != frame.shape:
            self._episode, self._since_start = None, 0
            return None, None
        self._since_start += 1
        if self._episode is not None:
            episode, item = self._episode
            result = episode.next(frame)
        else:
            if self._since_start < self.lead_in:
                return None, None
            if self.rng.random() >= self.spec.rate:
                return None, None
            item = self.spec.items[int(self.rng.integers(len(self.spec.items)))]
            result = item.apply(frame, self.rng, previous=previous, grid=self.grid)
        self._episode = None if result.episode is None else (result.episode, item)
        return result, item
