"""Node parameters -> the restorer's configuration (detector, reference tracker, compositing)."""

from __future__ import annotations

from frame_restore_ros.detection.detector import DetectorConfig
from frame_restore_ros.node.parameters import NodeSettings
from frame_restore_ros.pipeline.reference import TrackerConfig
from frame_restore_ros.pipeline.repair import RepairOptions
from frame_restore_ros.pipeline.restorer import RestorerConfig


def detector_config(settings: NodeSettings) -> DetectorConfig:
    return DetectorConfig(
        whole_frame_ratio=settings["detector.whole_frame_ratio"],
        frozen_frames=settings["detector.frozen_frames"],
        dead_max_gray=settings["detector.dead_max_gray"],
        saturated_min_gray=settings["detector.saturated_min_gray"],
        noise_min_texture=settings["detector.noise_min_texture"],
    )


def tracker_config(settings: NodeSettings) -> TrackerConfig:
    return TrackerConfig(
        max_failed_ratio=settings["reference.max_failed_ratio"],
        max_age_frames=settings["reference.max_age_frames"],
        max_age_s=settings["reference.max_age_s"],
    )


def restorer_config(settings: NodeSettings) -> RestorerConfig:
    """Return the RestorerConfig these parameters describe (raises ValueError if inconsistent)."""
    return RestorerConfig(
        detector=detector_config(settings),
        tracker=tracker_config(settings),
        repair=RepairOptions(
            feather_px=settings["feather_px"],
            detail_transfer=settings["detail_transfer"],
            change_tau=settings["change_tau"] or None,
            align=settings["align"],
            uncertainty=settings["publish_uncertainty"],
        ),
    )
