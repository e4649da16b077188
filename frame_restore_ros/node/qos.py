"""Which reliability an image subscription uses: forced, or matched to what the publishers offer.

``auto`` does what ``ros2 bag record`` does (rosbag2's ``adapt_request_to_offers``): reliable when
every publisher of the topic offers reliable, best effort when any offers best effort (a reliable
subscription would not match it and would receive nothing). A best-effort subscription to a
reliable publisher matches too, but then DDS drops what it cannot deliver in time: across
processes, large images lose frames (measured: 800x450 bgr8 at 10 Hz over Fast DDS, 21-25 of 40
frames arrive best effort, 40 of 40 reliable; docs/node.md). Before any publisher is known, best
effort is the choice that matches every publisher; the node re-checks once per ``period`` and
re-subscribes when the answer changes.
"""

from __future__ import annotations

from collections.abc import Iterable

RELIABILITY_CHOICES = ("auto", "best_effort", "reliable")
RECHECK_PERIOD_S = 1.0
OUTPUT_DEPTH = 5  # the outputs' history depth at least; as deep as the inputs' when deeper


def output_depth(input_depth: int) -> int:
    """History depth of the outputs for inputs of ``input_depth`` (``qos.depth``).

    A node that queues N input frames may publish N in a burst after a stall (a model swap, a
    slow frame); a reliable writer drops its oldest sample past its depth even when a reader
    still needs a fragment of it resent, so the outputs hold as many. Frames passed through
    behind a restoration are capped at this depth too (``frame_slot``).
    """
    return max(OUTPUT_DEPTH, input_depth)


def choose_reliability(setting: str, offered: Iterable[str]) -> str:
    """Return "reliable" or "best_effort" for an image subscription.

    Args:
        setting: the ``qos.reliability`` parameter: "auto", "best_effort" or "reliable".
        offered: the reliability each current publisher of the topic offers ("reliable",
            "best_effort", or anything else for a policy DDS reported as unknown).
    """
    if setting not in RELIABILITY_CHOICES:
        raise ValueError(f"qos.reliability must be one of {RELIABILITY_CHOICES}, got {setting!r}")
    if setting != "auto":
        return setting
    offers = list(offered)
    if offers and all(offer == "reliable" for offer in offers):
        return "reliable"
    return "best_effort"
