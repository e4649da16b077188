"""One restoration pipeline: the evaluation scores exactly what the node publishes.

The node (its transport-free core, fed ROS 2 messages as CDR) and the evaluation's SiamMCVAE and
hold rows are different entry points into the same ``RepairPipeline``; for the same reference,
damaged frame and failure mask they must produce the same bytes.
"""

from __future__ import annotations

import numpy as np
import pytest

from frame_restore_ros.codec.image_codec import bgr_to_native, native_to_fields, read_native
from frame_restore_ros.codec.messages import Image, make_header
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.evaluation.methods import Before, hold, model_method
from frame_restore_ros.node.core import NodeCore
from frame_restore_ros.node.message_factory import RosbagsMessageFactory
from frame_restore_ros.node.parameters import NodeSettings
from frame_restore_ros.synthetic import corruption

FRAME_DT_NS = 40_000_000


def message(bgr: np.ndarray, index: int) -> object:
    """A sensor_msgs/Image (bgr8) of ``bgr`` stamped ``index`` frames after t = 1 s."""
    fields = native_to_fields(bgr_to_native(bgr, "bgr8"), "bgr8")
    return Image(header=make_header(1_000_000_000 + index * FRAME_DT_NS, "cam"), **fields)


def node_outputs(core: NodeCore, msg: object) -> dict[str, object]:
    """Receive and process one message; return {output name: message}."""
    core.receive("camera", msg)
    pending = core.next_frame("camera", timeout=0)
    assert pending is not None
    return {p.output: p.message for p in core.process("camera", pending)}


@pytest.mark.parametrize("backend", ["torch-cpu", "hold"])
def test_evaluation_rows_equal_what_the_node_publishes(bikes_frames, backend):
    """Node defaults (ECC, gate, detail, feathering) on both sides; bundled weights."""
    clean = bikes_frames[17:21]  # clean to the detector (test_restorer.py)
    damaged = corruption.blocks(clean[-1], np.random.default_rng(4), FailureKind.DEAD, 2).damaged
    core = NodeCore(NodeSettings.build({"backend": backend}), RosbagsMessageFactory())
    try:
        for index, frame in enumerate(clean[:-1]):
            outputs = node_outputs(core, message(frame, index))
            core.idle("camera")
        restorer = core.cameras["camera"].restorer
        stamp = 1.0 + (len(clean) - 1) * FRAME_DT_NS / 1e9
        carried = restorer.pipeline.carried_motion(restorer.tracker.version, stamp)
        outputs = node_outputs(core, message(damaged, len(clean) - 1))
    finally:
        core.close()
    # The node carried the reference's motion (it prepared each reference in its idle time).
    assert backend == "hold" or (carried is not None and carried.steps == 1.0)
    assert core.cameras["camera"].stats.last_status == "repaired"
    published = read_native(outputs["restored"])
    failed = read_native(outputs["failure_mask"]) > 0
    method = hold if backend == "hold" else model_method(None, backend_name="torch-cpu")
    # reference: the last clean frame; the node carries its motion since the frame before it
    evaluated = method(clean[-2], damaged, failed, Before(clean[-3], 1.0))
    np.testing.assert_array_equal(evaluated, published)
    assert failed.any() and (published[failed] != damaged[failed]).any()
    np.testing.assert_array_equal(published[~failed], damaged[~failed])
