"""Node parameters -> each camera's restorer configuration, defect map and output options."""

from __future__ import annotations

from typing import Any

import numpy as np

from frame_restore_ros.detection.defect_mask import DefectMaskError, load_defect_mask
from frame_restore_ros.detection.detector import DetectorConfig
from frame_restore_ros.node.camera_pipeline import OutputOptions
from frame_restore_ros.node.parameters import (
    NODE_PARAMETERS,
    NodeSettings,
    ParameterError,
    camera_parameters,
)
from frame_restore_ros.pipeline.reference import TrackerConfig
from frame_restore_ros.pipeline.repair import RepairOptions
from frame_restore_ros.pipeline.restorer import RestorerConfig


def config_values(settings: NodeSettings, owner: type, camera: str = "") -> dict[str, Any]:
    """Return {field name: value} of the parameters that set fields of ``owner``.

    The node-wide ones and, with ``camera``, that camera's (``<camera>.repaired_format``).
    """
    specs = (*NODE_PARAMETERS, *(camera_parameters(camera) if camera else ()))
    return {
        field_name: settings[spec.name]
        for spec in specs
        for target, field_name in spec.config_fields
        if target is owner
    }


def load_defect_masks(settings: NodeSettings) -> dict[str, np.ndarray | None]:
    """Load each camera's ``<camera>.defect_mask``: (H, W) bool, or None when it has none.

    Raises ParameterError naming the parameter, the file and the loader's reason.
    """
    masks: dict[str, np.ndarray | None] = {}
    for camera in settings.cameras:
        name = f"{camera}.defect_mask"
        path = settings[name]
        try:
            masks[camera] = load_defect_mask(path) if path else None
        except DefectMaskError as exc:
            raise ParameterError(f"{name}: {exc}") from exc
    return masks


def restorer_config(settings: NodeSettings, defect_mask: np.ndarray | None) -> RestorerConfig:
    """Return one camera's RestorerConfig (raises ValueError if the values are inconsistent).

    ``defect_mask`` is the camera's loaded (H, W) bool map; pass the same array object every
    time, so that an unchanged detector configuration compares equal (and keeps its history).
    """
    repair = config_values(settings, RepairOptions)
    repair["change_tau"] = repair["change_tau"] or None  # parameter 0: no gate
    return RestorerConfig(
        detector=DetectorConfig(
            **config_values(settings, DetectorConfig), defect_mask=defect_mask
        ),
        tracker=TrackerConfig(**config_values(settings, TrackerConfig)),
        repair=RepairOptions(**repair),
    )


def output_options(settings: NodeSettings, camera: str) -> OutputOptions:
    """Return what ``camera`` publishes, and how."""
    return OutputOptions(**config_values(settings, OutputOptions, camera))
