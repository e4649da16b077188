"""Every parameter of the ``frame_restore`` node: type, default, description, range, validation.

This table is the single source: the rclpy adapter declares each entry with a ParameterDescriptor
(description, integer/floating-point range, read-only), the README table is generated from it
(``frame-restore node-params --markdown``), and runtime changes are validated here before any
is applied. A parameter that sets a field of a configuration dataclass (DetectorConfig,
TrackerConfig, RepairOptions, OutputOptions) takes its default from that field, so each default
is written once.
Types follow ROS 2 strictly: a double parameter given an integer (``24`` instead of ``24.0``) is
rejected, as rclpy would.

Per-camera parameters live under the camera's name (``front.input_topic``); the names come from
the read-only ``cameras`` list.
"""

from __future__ import annotations

import dataclasses
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.error import MarkedYAMLError, StreamMark
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, Event
from ruamel.yaml.reader import ReaderError

from frame_restore_ros.backends.selection import BACKENDS, PRECISIONS
from frame_restore_ros.detection.defect_mask import DefectMaskError, load_defect_mask
from frame_restore_ros.detection.detector import DetectorConfig
from frame_restore_ros.media.file_checks import ECHO_LIMIT, echo, file_problem
from frame_restore_ros.node.camera_pipeline import OutputOptions
from frame_restore_ros.node.qos import RELIABILITY_CHOICES
from frame_restore_ros.pipeline.alignment import ALIGN_MODES
from frame_restore_ros.pipeline.reference import TrackerConfig
from frame_restore_ros.pipeline.repair import RepairOptions

NODE_NAME = "frame_restore"
ParameterValue = bool | int | float | str | list[str]
_TYPE_NAMES = {bool: "bool", int: "integer", float: "double", str: "string", list: "string array"}
MESSAGE_LIMIT = 2000  # characters of another module's reason a message shows
PROBLEM_LIMIT = 20  # problems one message lists before "... and N more"
NESTING_LIMIT = 32  # levels of YAML collections a parameter file may nest

# Topics the node publishes under each camera's resolved input topic (<input>/restored, ...).
OUTPUT_TOPICS = ("restored", "failure_mask", "uncertainty")


def echo_within(reason: str, value: object) -> str:
    """Return another module's ``reason`` with each copy of a long ``value`` shown by ``echo``."""
    if isinstance(value, str) and len(value) > ECHO_LIMIT:
        reason = reason.replace(value, echo(value, quote=False))
    return echo(reason, quote=False, limit=MESSAGE_LIMIT)


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter.

    ``minimum``/``maximum`` become the descriptor's integer or floating-point range; ``choices``
    are checked here and listed in the description; ``reloads_model`` means that changing it
    builds a new backend beside the running one; ``config_fields`` are the (dataclass, field
    name) pairs the value is written to; ``check`` returns why a well-typed value is still
    unusable (a file that does not load), or None.
    """

    name: str
    default: ParameterValue
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = False
    reloads_model: bool = False
    config_fields: tuple[tuple[type, str], ...] = ()
    check: Callable[[Any], str | None] | None = None

    @property
    def kind(self) -> type:
        return type(self.default)

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.kind]

    def full_description(self) -> str:
        text = self.description
        if self.choices:
            text += f" One of: {', '.join(self.choices)}."
        return text

    def validate(self, value: object) -> str | None:
        """Return why ``value`` is not acceptable, or None when it is."""
        name, shown = echo(self.name, quote=False), echo(value)
        if self.kind is float and type(value) is int:
            return f"{name} is a double: write {shown}.0, not {shown}"
        if type(value) is not self.kind:
            return f"{name} is of type {self.type_name}, got {type(value).__name__} {shown}"
        if self.kind is list and not all(isinstance(v, str) for v in value):
            return f"{name} is of type string array, got {shown}"
        if self.kind is float and not math.isfinite(value):
            return f"{name} must be finite, got {shown}"
        if self.choices is not None and value not in self.choices:
            return f"{name} must be one of {', '.join(self.choices)}, got {shown}"
        if self.minimum is not None and value < self.minimum:
            return f"{name} must be >= {self.minimum}, got {shown}"
        if self.maximum is not None and value > self.maximum:
            return f"{name} must be <= {self.maximum}, got {shown}"
        if self.check is not None and (problem := self.check(value)):
            return f"{name}: {echo_within(problem, value)}"
        return None


def field_default(owner: type, name: str) -> Any:
    """Return the default of the dataclass field ``owner.name``."""
    for item in dataclasses.fields(owner):
        if item.name == name:
            if item.default_factory is not dataclasses.MISSING:
                return item.default_factory()
            if item.default is dataclasses.MISSING:
                raise ValueError(f"{owner.__name__}.{name} has no default")
            return item.default
    raise ValueError(f"{owner.__name__} has no field {name!r}")


def config_parameter(
    name: str, description: str, *targets: tuple[type, str], **options: Any
) -> ParameterSpec:
    """Return the spec of a parameter that sets the dataclass fields ``targets``.

    Its default is theirs; raise ValueError if their defaults differ.
    """
    defaults = [field_default(owner, field_name) for owner, field_name in targets]
    if any(default != defaults[0] for default in defaults):
        raise ValueError(f"{name} sets fields with different defaults: {targets}")
    return ParameterSpec(name, defaults[0], description, config_fields=targets, **options)


def defect_mask_problem(path: str) -> str | None:
    """Return why the defect mask file ``path`` cannot be used, or None.

    A path that is no readable regular file is named as such; otherwise the loader's reason.
    """
    if not path:
        return None
    if problem := file_problem(path, "defect mask"):
        return problem
    try:
        load_defect_mask(path)
    except (DefectMaskError, OSError) as exc:
        return echo_within(str(exc), path)
    return None


def weights_problem(path: str) -> str | None:
    """Return why ``path`` is not a SiamMCVAE weight file (the header reader's reason), or None.

    Only the safetensors header is read (``model/checkpoint.read_metadata``), not the tensors. A
    single-frame MAE is refused too: the node runs the reference pipeline. The tensor names and
    shapes the header lists must match its model config (``check_tensor_header``), as
    ``load_checkpoint`` requires.
    """
    if not path:
        return None
    from frame_restore_ros.model.checkpoint import (
        ARCHITECTURES,
        CheckpointError,
        check_tensor_header,
        read_metadata,
    )

    try:
        config, _ = read_metadata(path)
        if config.architecture == "siammcvae":
            check_tensor_header(path)
    except CheckpointError as exc:  # a name the file system refuses too: never an OSError
        return echo_within(str(exc), path)
    if config.architecture != "siammcvae":
        return (
            f"{echo(path, quote=False)}: holds a {ARCHITECTURES[config.architecture]} "
            f"(architecture {config.architecture}), not a SiamMCVAE: the node repairs from "
            "the reference"
        )
    return None


def engine_cache_dir_problem(folder: str) -> str | None:
    """Return why ``folder`` cannot hold the engine cache (``cache_dir_problem``), or None."""
    if not folder:
        return None
    from frame_restore_ros.backends.onnx_cache import cache_dir_problem

    problem = cache_dir_problem(Path(folder))  # a refused name is a reason, never an OSError
    return echo_within(problem, folder) if problem else None


def model_files_problems(weights: object, engine_cache_dir: object) -> list[str]:
    """Return every reason the ``weights`` file or ``engine_cache_dir`` folder is unusable.

    Each names its parameter. Both are checked whatever the backend (hold loads no weights,
    torch uses no cache), so that a later switch of backend finds them usable. A value that is
    not a string is skipped: its type is reported by the table.
    """
    problems = []
    if isinstance(weights, str) and (problem := weights_problem(weights)):
        problems.append(f"weights: {problem}")
    if isinstance(engine_cache_dir, str) and (
        problem := engine_cache_dir_problem(engine_cache_dir)
    ):
        problems.append(f"engine_cache_dir: {problem}")
    return problems


def model_files_problem(weights: str, engine_cache_dir: str) -> str | None:
    """Return every reason of ``model_files_problems`` on one line, or None."""
    return "; ".join(model_files_problems(weights, engine_cache_dir)) or None


# --- ROS 2 names (rcl/rmw rules, without importing rclpy) -------------------------------------

_ALNUM = frozenset(string.ascii_letters + string.digits)  # rcutils_isalnum_no_locale
_DIGITS = frozenset(string.digits)
_NAME_CHARS = _ALNUM | {"_"}
TOPIC_MAX_LENGTH = 255 - 8  # RMW_TOPIC_MAX_NAME_LENGTH
NODE_NAME_MAX_LENGTH = 255  # RMW_NODE_NAME_MAX_NAME_LENGTH
_TOKEN_DIGIT = "a name token must not start with a number"
_TOPIC_CHARACTERS = "it may hold only letters, digits, '_', '/', a leading '~' and {substitutions}"
_SUBSTITUTIONS = ("{node}", "{ns}", "{namespace}")  # what rcl_expand_topic_name knows
_SOME_NAMESPACE = "/ns"  # {ns} resolves to "/" in the root namespace, so try one more
Rule = tuple[str, int]  # (the broken rule, the index of the offending character)
_NOT_LETTER = re.compile(r"[^A-Za-z_]")
_SLASH_DIGIT = re.compile(r"/[0-9]")
_NOT_FULL_NAME = re.compile(r"[^A-Za-z0-9_/]")
_SLASH_SLASH_OR_DIGIT = re.compile(r"/[/0-9]")


def _rcl_characters(name: str) -> Rule | None:
    """rcl_validate_topic_name's pass over the characters: allowed ones, ``~``, ``{}``."""
    opening = None  # index of the open "{"
    for match in _NOT_LETTER.finditer(name):  # letters and "_" pass anywhere
        index, char = match.start(), match.group()
        if char in _DIGITS:
            if opening == index - 1:
                return "a substitution must not start with a number", index
        elif char == "~" and index != 0:
            return "'~' may only be the first character", index
        elif char == "{" and opening is None:
            opening = index
        elif char == "}" and opening is not None:
            opening = None
        elif char == "}":
            return "unmatched '}'", index
        elif opening is not None:
            return "a substitution {...} may hold only letters, digits and '_'", index
        elif char not in "/~":
            return _TOPIC_CHARACTERS, index
    if opening is not None:
        return "unmatched '{'", opening
    return None


def _rcl_topic_rule(name: str) -> Rule | None:
    """Return the rule of rcl_validate_topic_name that ``name`` breaks, or None."""
    if not name:
        return "it must not be empty", 0
    if name[0] in _DIGITS:
        return _TOKEN_DIGIT, 0
    if name.endswith("/"):
        return "it must not end with '/'", len(name) - 1
    if rule := _rcl_characters(name):
        return rule
    if name[0] == "~" and len(name) > 2 and name[1] != "/":  # as rcl: a 2-character "~x" passes
        return "'~' must be followed by '/'", 1
    if match := _SLASH_DIGIT.search(name):
        return _TOKEN_DIGIT, match.start() + 1
    return None


def expand_topic_name(name: str, node_name: str, namespace: str) -> str:
    """rcl_expand_topic_name of a name that passed its rules; ValueError on an unknown {...}."""
    prefix = namespace if namespace == "/" else namespace + "/"
    if name.startswith("~"):
        name = prefix + node_name + name[1:]
    while "{" in name:
        token = name[name.index("{") : name.index("}") + 1]
        if token not in _SUBSTITUTIONS:
            known = ", ".join(_SUBSTITUTIONS)
            raise ValueError(f"unknown substitution {token} (rcl knows {known})")
        name = name.replace(token, node_name if token == "{node}" else namespace)
    return name if name.startswith("/") else prefix + name


def _full_topic_rule(name: str) -> Rule | None:
    """Return the rule of rmw_validate_full_topic_name that the expanded ``name`` breaks."""
    if not name.startswith("/") or name.endswith("/"):
        return "it must start and not end with '/'", max(len(name) - 1, 0)
    if match := _NOT_FULL_NAME.search(name):
        return "it may hold only letters, digits, '_' and '/'", match.start()
    if match := _SLASH_SLASH_OR_DIGIT.search(name):
        reason = "it must not repeat '/'" if match.group()[1] == "/" else _TOKEN_DIGIT
        return reason, match.start() + 1
    if len(name) > TOPIC_MAX_LENGTH:
        return f"it must be at most {TOPIC_MAX_LENGTH} characters", len(name)
    return None


def _broken(what: str, name: str, rule: Rule, resolved: str | None = None) -> str:
    """Word a broken name rule: the name, the rule and the offending character.

    With ``resolved``, the rule is that of the resolved name, which the index points into.
    """
    reason, index = rule
    subject = name if resolved is None else resolved
    at = f" ({subject[index]!r} at index {index})" if index < len(subject) else ""
    via = "" if resolved is None else f" once resolved to {echo(resolved)}"
    return f"{echo(name)} is not a valid ROS 2 {what}{via}: {reason}{at}"


def _resolved_topic_problem(name: str, node_name: str, namespace: str) -> str | None:
    """Why ``name`` (rcl-valid) fails once expanded for the node, outputs included."""
    try:
        resolved = expand_topic_name(name, node_name, namespace)
    except ValueError as exc:
        return f"{echo(name)} is not a valid ROS 2 topic name: {exc}"
    if rule := _full_topic_rule(resolved):
        return _broken("topic name", name, rule, resolved)
    longest = f"{resolved}/{max(OUTPUT_TOPICS, key=len)}"
    if len(longest) > TOPIC_MAX_LENGTH:
        return (
            f"{echo(name)} is too long: the output topic {echo(longest)} would exceed the "
            f"{TOPIC_MAX_LENGTH} characters of a ROS 2 topic name"
        )
    return None


def topic_name_problem(
    name: str, node_name: str = NODE_NAME, namespace: str | None = None
) -> str | None:
    """Return why node ``node_name`` could not subscribe to ``name`` (and publish under it).

    None when it could. The rules of rclpy's validate_topic_name (rcl_validate_topic_name),
    then of the name once rcl_expand_topic_name resolved it (known substitutions,
    rmw_validate_full_topic_name, the length with the longest output suffix). Relative,
    private (``~/``) and ``{node}``, ``{ns}`` names are allowed. With ``namespace`` (the node's
    real one), the name must resolve there; without, in the root namespace or in another.
    """
    if rule := _rcl_topic_rule(name):
        return _broken("topic name", name, rule)
    namespaces = ("/", _SOME_NAMESPACE) if namespace is None else (namespace,)
    problems = [_resolved_topic_problem(name, node_name, ns) for ns in namespaces]
    return None if None in problems else problems[0]


def node_name_problem(name: str) -> str | None:
    """Return why rclpy would refuse ``name`` as a node name (rmw_validate_node_name), or None."""
    if not name:
        return _broken("node name", name, ("it must not be empty", 0))
    for index, char in enumerate(name):
        if char not in _NAME_CHARS:
            return _broken("node name", name, ("it may hold only letters, digits and '_'", index))
    if name[0] in _DIGITS:
        return _broken("node name", name, ("it must not start with a number", 0))
    if len(name) > NODE_NAME_MAX_LENGTH:
        reason = f"it must be at most {NODE_NAME_MAX_LENGTH} characters"
        return _broken("node name", name, (reason, len(name)))
    return None


def input_topic_problem(
    topic: str, node_name: str = NODE_NAME, namespace: str | None = None
) -> str | None:
    """``<camera>.input_topic``: empty (the default, ``<camera>/image_raw``) or a topic name.

    ``node_name`` and ``namespace`` as in :func:`topic_name_problem`.
    """
    return topic_name_problem(topic, node_name, namespace) if topic else None


def default_input_topic(camera: str) -> str:
    """Return the input topic of ``camera`` when ``<camera>.input_topic`` is empty."""
    return f"{camera}/image_raw"


MODEL_BACKENDS = ("hold", *BACKENDS)

NODE_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "cameras",
        ["camera"],
        "Camera names; each gets its own reference, statistics and <name>.* parameters.",
        read_only=True,
    ),
    ParameterSpec(
        "backend",
        "auto",
        "Inference backend (frame-restore doctor lists what runs here); hold copies the "
        "reference into failed pixels without a model.",
        choices=MODEL_BACKENDS,
        reloads_model=True,
    ),
    ParameterSpec(
        "weights",
        "",
        "SiamMCVAE safetensors file; empty: the bundled default (siammcvae_small).",
        reloads_model=True,
    ),
    ParameterSpec(
        "precision",
        "fp16",
        "Precision of tensorrt and torch-cuda, and of openvino-cpu (fp16: the CPU's native "
        "reduced format: bf16 on AVX512-BF16/AMX, else fp16 on Arm, else fp32); the other CPU "
        "backends run fp32. bf16 on tensorrt needs a GPU of compute capability 8.0 or newer "
        "(refused before building, naming fp16).",
        choices=PRECISIONS,
        reloads_model=True,
    ),
    ParameterSpec(
        "engine_cache_dir",
        "",
        "Where exported ONNX files and TensorRT engines are cached; empty: "
        "$FRAME_RESTORE_CACHE or ~/.cache/frame_restore_ros.",
        reloads_model=True,
    ),
    config_parameter(
        "restore",
        "Repair failed regions; false: detect and publish masks, pass every frame through.",
        (OutputOptions, "restore"),
    ),
    config_parameter(
        "publish_mask",
        "Publish <input>/failure_mask (mono8, 255 = failed).",
        (OutputOptions, "publish_mask"),
    ),
    config_parameter(
        "jpeg_quality",
        "JPEG quality of repaired frames of JPEG cameras (re-encoding changes good pixels by the "
        "codec's loss: mean 0.13, max 6 gray levels at 95 on bikes.mp4).",
        (OutputOptions, "jpeg_quality"),
        minimum=50,
        maximum=100,
    ),
    config_parameter(
        "publish_uncertainty",
        "Publish <input>/uncertainty (32FC1 std, in gray levels) from K decoder samples.",
        (RepairOptions, "uncertainty"),
        (OutputOptions, "publish_uncertainty"),
        reloads_model=True,
    ),
    ParameterSpec(
        "uncertainty_samples",
        8,
        "K, the decoder samples behind the uncertainty map (one batched call).",
        minimum=2,
        maximum=32,
        reloads_model=True,
    ),
    config_parameter(
        "feather_px",
        "Width of the blend at the edge of a repaired region, in pixels.",
        (RepairOptions, "feather_px"),
        minimum=0,
        maximum=128,
    ),
    config_parameter(
        "thin_inpaint_px",
        "Failed structures at most this thick (dead lines, a few rows or columns) are inpainted "
        "from their neighbours instead of predicted by the model; 0: off.",
        (RepairOptions, "thin_inpaint_px"),
        minimum=0,
        maximum=16,
    ),
    config_parameter(
        "temporal_blend",
        "Where a pixel was repaired in the previous frame too, publish this share of the new "
        "repair and the rest of the previous output (a lasting failure flickers less); 1.0: off.",
        (RepairOptions, "temporal_blend"),
        minimum=0.05,
        maximum=1.0,
    ),
    config_parameter(
        "detail_transfer",
        "Add the reference's full-resolution detail to the upsampled model output.",
        (RepairOptions, "detail_transfer"),
    ),
    config_parameter(
        "change_tau",
        "Change gate: where model and reference differ by less than this (gray levels), keep "
        "the reference's pixels; 0 turns the gate off.",
        (RepairOptions, "change_tau"),
        minimum=0.0,
        maximum=255.0,
    ),
    config_parameter(
        "align",
        "Warp the reference onto the frame before repairing: ecc (one affine warp), ecc_flow "
        "(that, then the dense motion around failures enclosed by clean pixels); none: off.",
        (RepairOptions, "align"),
        choices=ALIGN_MODES,
    ),
    config_parameter(
        "motion_prior",
        "With align ecc_flow: carry the reference's own motion (against the frame before it) "
        "forward into the failures, where it explains the clean pixels better than ECC.",
        (RepairOptions, "motion_prior"),
    ),
    config_parameter(
        "reference.max_failed_ratio",
        "A 16x16 px region of the reference mosaic refreshes (its age restarts) only if at "
        "most this share of its pixels failed; good pixels update the mosaic in every frame.",
        (TrackerConfig, "max_failed_ratio"),
        minimum=0.0,
        maximum=0.5,
    ),
    config_parameter(
        "reference.propagate_repairs",
        "Repaired pixels enter the reference mosaic, so a lasting failure is repaired from the "
        "previous repaired frame; its regions still age from their last good content.",
        (TrackerConfig, "propagate_repairs"),
    ),
    config_parameter(
        "reference.propagate_followed",
        "Propagate a frame's repairs (as reference.propagate_repairs) when they followed the "
        "scene's measured motion at every failed pixel (align ecc_flow); lost rows at the "
        "frame's edge never do and keep the held reference.",
        (TrackerConfig, "propagate_followed"),
    ),
    config_parameter(
        "reference.propagate_enclosed",
        "Propagate a frame's repairs (as reference.propagate_repairs) when every failed pixel "
        "lies between clean ones along its row or column, followed or not; lost rows and "
        "failed corners at the frame's edge never do and keep the held reference.",
        (TrackerConfig, "propagate_enclosed"),
    ),
    config_parameter(
        "reference.max_age_frames",
        "Failed pixels whose region of the reference is older pass through (stale "
        "reference); the rest of the frame is still repaired.",
        (TrackerConfig, "max_age_frames"),
        minimum=1,
        maximum=10000,
    ),
    config_parameter(
        "reference.max_age_s",
        "Failed pixels whose region of the reference is older (by header stamp) pass through "
        "(stale reference); the rest of the frame is still repaired.",
        (TrackerConfig, "max_age_s"),
        minimum=0.01,
        maximum=600.0,
    ),
    config_parameter(
        "detector.whole_frame_ratio",
        "At or above this failed ratio the whole frame counts as failed (passed through).",
        (DetectorConfig, "whole_frame_ratio"),
        minimum=0.05,
        maximum=1.0,
    ),
    config_parameter(
        "detector.onset_warmup_frames",
        "Frames after a start or reset (resolution change, bag loop) before a dead, saturated, "
        "noise or cast failure can begin: a shadow that swept in between the first two frames "
        "is as new as a failure. What looks failed by then is scene while it lasts. Unless 0, "
        "the frame after a scene cut starts no dead, saturated, noise, cast or blockage "
        "failure either (the cut frame is the new scene's only look; a change from it may be "
        "a failure in it ending).",
        (DetectorConfig, "onset_warmup_frames"),
        minimum=0,
        maximum=300,
    ),
    config_parameter(
        "detector.frozen_frames",
        "Frames a textured block must show the same content (the last frame it moved in "
        "included), after moving while its surroundings move, to count as frozen (3: from "
        "its second frozen frame; one repeat is what a codec skip block shows too).",
        (DetectorConfig, "frozen_frames"),
        minimum=2,
        maximum=300,
    ),
    config_parameter(
        "detector.dead_max_gray",
        "Blocks darker than this (gray levels) that appear where the scene was lit are dead.",
        (DetectorConfig, "dead_max_gray"),
        minimum=0.0,
        maximum=64.0,
    ),
    config_parameter(
        "detector.saturated_min_gray",
        "Flat blocks brighter than this (gray levels) are saturated.",
        (DetectorConfig, "saturated_min_gray"),
        minimum=128.0,
        maximum=255.0,
    ),
    config_parameter(
        "detector.noise_min_texture",
        "Blocks with more texture than this (and far above their baseline) are noise.",
        (DetectorConfig, "noise_min_texture"),
        minimum=10.0,
        maximum=10000.0,
    ),
    ParameterSpec(
        "qos.reliability",
        "auto",
        "Reliability of the image subscriptions; auto matches the publishers as ros2 bag record "
        "does (reliable when every publisher is reliable, else best effort; re-checked each "
        "second).",
        choices=RELIABILITY_CHOICES,
        read_only=True,
    ),
    ParameterSpec(
        "qos.depth",
        1,
        "History depth of the image subscriptions (keep last N); the outputs keep max(5, N): a "
        "node queueing N frames may publish N in a burst after a stall.",
        minimum=1,
        maximum=100,
        read_only=True,
    ),
    ParameterSpec(
        "overload_policy",
        "drop",
        "A frame superseded by a newer one before it was processed: drop it (counted) or "
        "passthrough (republish it unchanged). While a restoration stalls (stall_timeout_s), "
        "frames pass through under either policy.",
        choices=("drop", "passthrough"),
    ),
    ParameterSpec(
        "stall_timeout_s",
        1.0,
        "A restoration longer than this has stalled: the frames after it pass through "
        "unrestored (the stalled one first, as received), its late result is not published, "
        "and the camera's diagnostics say ERROR. Also how long a frame passed through waits "
        "behind a restoration (passthrough), seconds.",
        minimum=0.05,
        maximum=60.0,
    ),
    ParameterSpec(
        "max_input_age_s",
        0.0,
        "Drop (or pass through, per overload_policy) frames whose header stamp is older than "
        "this when their turn comes (node clock; use_sim_time for bags); 0: off.",
        minimum=0.0,
        maximum=60.0,
    ),
    ParameterSpec(
        "diagnostics.period_s",
        1.0,
        "Period of /diagnostics (diagnostic_msgs/DiagnosticArray), seconds.",
        minimum=0.1,
        maximum=60.0,
        read_only=True,
    ),
    ParameterSpec(
        "diagnostics.stale_after_s",
        2.0,
        "A camera with no frame for this long is reported STALE.",
        minimum=0.1,
        maximum=600.0,
    ),
    ParameterSpec(
        "diagnostics.warn_failed_ratio",
        0.05,
        "WARN when a camera's mean failed ratio over the period exceeds this.",
        minimum=0.0,
        maximum=1.0,
    ),
    ParameterSpec(
        "log_throttle_s",
        5.0,
        "Repeated warnings (bad messages, pass-throughs) are logged at most once per this "
        "many seconds per camera and kind; the rest are counted.",
        minimum=0.0,
        maximum=3600.0,
    ),
)

_CAMERA_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "input_topic",
        "",  # per camera: default_input_topic(camera)
        "Input topic; empty: <name>/image_raw (relative, so namespaces and remapping apply). "
        "Outputs go to <resolved input>/restored, /failure_mask, /uncertainty.",
        read_only=True,
        check=input_topic_problem,
    ),
    ParameterSpec(
        "transport",
        "raw",
        "raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage (JPEG/PNG).",
        choices=("raw", "compressed"),
        read_only=True,
    ),
    config_parameter(
        "repaired_format",
        "Compressed cameras: repaired frames in the input's format (same) or as lossless png, "
        "which keeps every decoded good pixel exact at ~10x the bytes. Other frames are always "
        "republished as received.",
        (OutputOptions, "repaired_format"),
        choices=("same", "png"),
    ),
    ParameterSpec(
        "defect_mask",
        "",
        "Calibrated defect map of this camera's sensor: an image (any nonzero pixel) or a .npy "
        "(H, W) array at the camera's resolution, whose pixels count as failed in every frame; "
        "empty: none. Loaded at start; a file that does not load stops the node with the reason.",
        read_only=True,
        check=defect_mask_problem,
    ),
)


def camera_parameters(camera: str) -> tuple[ParameterSpec, ...]:
    """Return the per-camera specs for ``camera`` (``<camera>.input_topic``, ...)."""
    specs = []
    for spec in _CAMERA_PARAMETERS:
        default = default_input_topic(camera) if spec.name == "input_topic" else spec.default
        specs.append(dataclasses.replace(spec, name=f"{camera}.{spec.name}", default=default))
    return tuple(specs)


def camera_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a camera (ASCII letters, digits and _, as ROS names), or None."""
    if not name or not all(c in _NAME_CHARS for c in name) or name[0] in _DIGITS:
        return f"camera name {echo(name)} must be letters, digits and _, not starting with a digit"
    if any(name == spec.name.split(".")[0] for spec in NODE_PARAMETERS):
        return f"camera name {echo(name)} clashes with a node parameter"
    return None


def validate_camera_names(names: list[str]) -> str | None:
    """Why the ``cameras`` list is unusable (every reason), or None."""
    if not names:
        return "cameras must name at least one camera"
    problems = [problem for name in names if (problem := camera_name_problem(name))]
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        shown = join_problems([echo(name) for name in repeated], separator=", ")
        problems.append(f"camera names repeat: {shown}")
    return join_problems(problems) or None


def camera_topic_problem(
    camera: str, values: Mapping[str, object], node_name: str, namespace: str | None
) -> str | None:
    """Why ``camera``'s input topic is no name the node ``node_name`` can use, or None.

    The default (``<camera>/image_raw``, when the value is empty) is always checked; a topic
    set explicitly was checked by its spec for the default node name in some namespace, so it
    is checked again only for another name or a given namespace.
    """
    given, shown = values.get(f"{camera}.input_topic"), echo(camera, quote=False)
    if not given:
        problem = topic_name_problem(default_input_topic(camera), node_name, namespace)
        return f"{shown}.input_topic (empty: the default): {problem}" if problem else None
    if namespace is None and node_name == NODE_NAME:
        return None
    problem = topic_name_problem(str(given), node_name, namespace)
    return f"{shown}.input_topic: {problem}" if problem else None


def validate_input_topics(
    cameras: list[str],
    values: Mapping[str, object],
    node_name: str = NODE_NAME,
    namespace: str | None = None,
) -> str | None:
    """Why the cameras' input topics are unusable, or None.

    Each must be a name the node ``node_name`` can use in ``namespace`` (None: some namespace;
    :func:`camera_topic_problem`): a long camera name can make a default topic too long, a
    long namespace or node name a ``~/...`` one. Two cameras must not read one input topic
    (and publish to one /restored).
    """
    users: dict[str, list[str]] = {}
    problems = []
    for camera in cameras:
        if problem := camera_topic_problem(camera, values, node_name, namespace):
            problems.append(problem)
        topic = str(values.get(f"{camera}.input_topic") or default_input_topic(camera))
        users.setdefault(topic.rstrip("/"), []).append(camera)
    shared = [
        f"{echo(topic, quote=False)} ({', '.join(echo(n, quote=False) for n in names)})"
        for topic, names in users.items()
        if len(names) > 1
    ]
    if shared:
        problems.append(
            "cameras share an input topic, so their outputs would clash: " + join_problems(shared)
        )
    return join_problems(problems) or None


def all_specs(cameras: list[str]) -> dict[str, ParameterSpec]:
    """Every parameter for this camera list, by name."""
    specs = {spec.name: spec for spec in NODE_PARAMETERS}
    for camera in cameras:
        specs.update({spec.name: spec for spec in camera_parameters(camera)})
    return specs


class ParameterError(ValueError):
    """Parameters that cannot be used; the text lists every problem."""


def join_problems(
    problems: Sequence[str], limit: int = PROBLEM_LIMIT, separator: str = "; "
) -> str:
    """Return ``problems`` on one line, after ``separator``: the first ``limit``, then a count.

    A file of a hundred thousand unknown names makes a message of ``limit`` problems and
    "... and N more", not one of megabytes.
    """
    shown = separator.join(problems[:limit])
    more = len(problems) - limit
    return shown if more <= 0 else f"{shown}{separator}... and {more} more"


def _unknown_problems(
    names: Iterable[str],
    specs: Mapping[str, ParameterSpec],
    cameras_known: bool = True,
    cameras: Sequence[str] = (),
) -> list[str]:
    """Return "unknown parameter" for each of ``names`` without a spec.

    With ``cameras_known`` False (an unusable ``cameras`` list), ``specs`` holds the node-wide
    parameters only, and a ``<camera>.<per-camera parameter>`` name may belong to any camera:
    such names are skipped. Otherwise such a name of a camera missing from ``cameras`` says so
    (the launch file's ``camera_topics`` sets ``<camera>.input_topic``).
    """
    problems = []
    for name in names:
        if name in specs:
            continue
        if not _may_be_camera_parameter(name):
            problems.append(f"unknown parameter {echo(name)}")
        elif cameras_known:
            camera = name.partition(".")[0]
            listed = ", ".join(cameras) or "none"
            problems.append(
                f"unknown parameter {echo(name)}: {echo(camera)} is not in cameras ({listed})"
            )
    return problems


def _may_be_camera_parameter(name: str) -> bool:
    """Whether ``name`` is ``<some name>.<per-camera parameter>`` (``front.transport``)."""
    _, dot, rest = name.partition(".")  # a camera name holds no "."
    return bool(dot) and any(rest == spec.name for spec in _CAMERA_PARAMETERS)


def _value_problems(specs: Mapping[str, ParameterSpec], values: Mapping[str, object]) -> list[str]:
    """Return the reason of each value that its spec refuses; names without a spec are skipped."""
    return [
        problem
        for name, value in values.items()
        if name in specs and (problem := specs[name].validate(value))
    ]


def parameter_problems(
    overrides: Mapping[str, object], node_name: str = NODE_NAME, namespace: str | None = None
) -> list[str]:
    """Every problem of ``overrides`` (defaults fill the rest): empty when they are usable.

    When the ``cameras`` list itself is unusable, the per-camera names are unknown: the
    node-wide parameters are still checked. Topics are checked for the node ``node_name`` in
    ``namespace`` (None: in some namespace), as :func:`validate_input_topics` says.
    """
    cameras = overrides.get("cameras", NODE_PARAMETERS[0].default)
    if problem := NODE_PARAMETERS[0].validate(cameras) or validate_camera_names(cameras):
        node_specs = {spec.name: spec for spec in NODE_PARAMETERS}
        unknown = _unknown_problems(overrides, node_specs, cameras_known=False)
        others = {name: value for name, value in overrides.items() if name != "cameras"}
        return [problem, *unknown, *_value_problems(node_specs, others)]
    specs = all_specs(cameras)
    problems = _unknown_problems(overrides, specs, cameras=list(cameras))
    problems += _value_problems(specs, overrides)
    topics = {name: value for name, value in overrides.items() if name.endswith(".input_topic")}
    if not _value_problems(specs, topics) and (
        problem := validate_input_topics(cameras, topics, node_name, namespace)
    ):
        problems.append(problem)
    return problems


@dataclass(frozen=True)
class NodeSettings:
    """A validated, complete set of parameter values (read with ``settings["name"]``)."""

    values: Mapping[str, ParameterValue]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def cameras(self) -> list[str]:
        return list(self.values["cameras"])

    @classmethod
    def build(
        cls,
        overrides: Mapping[str, object] | None = None,
        node_name: str = NODE_NAME,
        namespace: str | None = None,
    ) -> NodeSettings:
        """Defaults updated with ``overrides``; raise ParameterError listing every problem.

        Topics are checked for the node ``node_name`` in ``namespace`` (None: in some one).
        """
        overrides = dict(overrides or {})
        if problems := parameter_problems(overrides, node_name, namespace):
            raise ParameterError(join_problems(problems))
        specs = all_specs(overrides.get("cameras", NODE_PARAMETERS[0].default))
        values = {name: spec.default for name, spec in specs.items()}
        values.update(overrides)
        return cls(values)

    def changed(self, changes: Mapping[str, object]) -> NodeSettings:
        """Return a copy with ``changes``; raise ParameterError (read-only, type, range)."""
        specs = all_specs(self.cameras)
        problems = []
        for name, value in changes.items():
            spec = specs.get(name)
            if spec is None:
                problems.append(f"unknown parameter {name!r}")
            elif spec.read_only and value != self.values[name]:
                problems.append(f"{name} is read-only: restart the node to change it")
            elif problem := spec.validate(value):
                problems.append(problem)
        if problems:
            raise ParameterError(join_problems(problems))
        return NodeSettings({**self.values, **changes})


def flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Flatten sections: {"reference": {"max_age_s": 1.5}} -> {"reference.max_age_s": 1.5}."""
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = list(value) if isinstance(value, list) else value
    return flat


def load_yaml(path: str | Path) -> object:
    """Return the YAML document in ``path``; raise ParameterError with one line naming the file.

    The line says where (line and column) and what is wrong. Aliases (``*name``) are refused
    before anything is built, as rcl's parser refuses them ("Will not support aliasing"): a
    recursive one cannot be flattened, and a few hundred bytes of nested ones expand to millions
    of values (a "billion laughs"). So are collections nested deeper than NESTING_LIMIT.
    """
    text = ""
    try:
        text = Path(path).read_text(encoding="utf-8")
        yaml = YAML(typ="safe")
        problem = _structure_problem(yaml.parse(text))
        document = None if problem else yaml.load(text)
    except OSError as exc:
        problem = exc.strerror or str(exc)
    except YAMLError as exc:
        problem = _yaml_error_text(exc, text)
    except UnicodeDecodeError as exc:
        problem = _utf8_error_text(exc)
    except ValueError as exc:  # a 5000-digit int
        problem = str(exc) or type(exc).__name__
    if problem:
        raise ParameterError(
            f"cannot read parameter file {path}: {echo(problem, quote=False, limit=MESSAGE_LIMIT)}"
        )
    return document


def _structure_problem(events: Iterable[Event]) -> str | None:
    """Return where and why the YAML ``events`` cannot be a ROS 2 parameter file, or None.

    The first alias is refused, named (and said to be recursive when it lies inside its own
    anchor's collection), as are collections nested deeper than NESTING_LIMIT levels.
    """
    anchors: list[tuple[str | None, StreamMark]] = []  # of the collections open here
    for event in events:
        if isinstance(event, AliasEvent):
            return _alias_problem(event, anchors)
        if isinstance(event, CollectionStartEvent):
            anchors.append((event.anchor, event.start_mark))
            if len(anchors) > NESTING_LIMIT:
                deeper = f"collections nested deeper than {NESTING_LIMIT} levels"
                return f"{_where(event.start_mark)}: {deeper}"
        elif isinstance(event, CollectionEndEvent):
            anchors.pop()
    return None


def _alias_problem(event: AliasEvent, anchors: list[tuple[str | None, StreamMark]]) -> str:
    """Word the refusal of the alias ``event`` (recursive when ``anchors`` hold its own)."""
    name = echo(event.anchor, quote=False)
    marks = [mark for anchor, mark in anchors if anchor == event.anchor]
    recursive = f"recursive alias *{name} (inside &{name} at {_where(marks[0])})" if marks else ""
    return (
        f"{_where(event.start_mark)}: {recursive or f'alias *{name}'}: ROS 2 parameter files "
        "cannot use YAML aliases (rcl: Will not support aliasing)"
    )


def _where(mark: StreamMark) -> str:
    """Return ``line L, column C`` (from 1) of a YAML mark."""
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _utf8_error_text(exc: UnicodeDecodeError) -> str:
    """Return where (line and column, counted in bytes) a file is not UTF-8, and the byte."""
    before = exc.object[: exc.start]
    line, column = before.count(b"\n") + 1, exc.start - before.rfind(b"\n")
    return f"line {line}, column {column}: not UTF-8 (byte 0x{exc.object[exc.start]:02x})"


def _yaml_error_text(exc: YAMLError, text: str) -> str:
    """Return a YAML error on one line: where, the problem, and what was being read from where.

    ``text`` is the document, in which a ReaderError's position lies. ruamel's own text spans
    lines (a quoted excerpt, a caret, a note on how to silence a check).
    """
    if isinstance(exc, ReaderError) and isinstance(exc.position, int):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - before.rfind("\n")
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else exc.character
        return f"line {line}, column {column}: unacceptable character {char}: {exc.reason}"
    if not isinstance(exc, MarkedYAMLError):
        return " ".join(str(exc).split())
    problem, mark = exc.problem or exc.context, exc.problem_mark or exc.context_mark
    line = f"{_where(mark)}: {problem}" if mark else str(problem)
    if exc.problem and exc.context and exc.context_mark:
        line += f" ({exc.context} at {_where(exc.context_mark)})"
    return " ".join(line.split())


def read_parameter_file(path: str | Path, node_name: str = NODE_NAME) -> dict[str, object]:
    """Read the ``ros__parameters`` a ROS 2 parameter YAML gives ``node_name``.

    Sections are matched as ROS does: ``/**``, ``node_name``, ``/node_name`` and any namespaced
    ``/ns/node_name``; later sections override earlier ones. Raises ParameterError, naming the
    file once, on unreadable YAML (:func:`load_yaml`) or a file without a section for the node.
    """
    if problem := node_name_problem(node_name):
        raise ParameterError(problem)
    document = load_yaml(path)
    if not isinstance(document, Mapping):
        raise ParameterError(f"parameter file {path} must map node names to ros__parameters")
    merged: dict[str, object] = {}
    matched = False
    for section, body in document.items():
        key = str(section)
        if key in ("/**", node_name) or key.rstrip("/").split("/")[-1] == node_name:
            if not isinstance(body, Mapping) or not isinstance(
                body.get("ros__parameters"), Mapping
            ):
                raise ParameterError(
                    f"{path}: section {echo(key, quote=False)} has no ros__parameters mapping"
                )
            merged.update(flatten(body["ros__parameters"]))
            matched = True
    if not matched:
        raise ParameterError(f"{path} has no section for node {node_name} (nor /**)")
    merged.pop("use_sim_time", None)  # a ROS built-in, not ours
    return merged


def load_settings(path: str | Path, node_name: str = NODE_NAME) -> NodeSettings:
    """Validate a parameter file against the table; raise ParameterError naming the file.

    Every problem is listed at once. The ``weights`` file (its header) and the
    ``engine_cache_dir`` folder are checked too, as the node checks them before it loads a
    model (``node/model_holder.build_backend``). Topics are checked for ``node_name`` in some
    namespace (the node checks them again in its real one).
    """
    values = read_parameter_file(path, node_name)  # its errors name the file
    problems = parameter_problems(values, node_name)
    problems += model_files_problems(values.get("weights", ""), values.get("engine_cache_dir", ""))
    if problems:
        raise ParameterError(f"{path}: " + join_problems(problems))
    return NodeSettings.build(values, node_name)


def markdown_table() -> str:
    """Render the README's parameter table."""
    rows = ["| parameter | type | default | range / choices | runtime | description |"]
    rows.append("| --- | --- | --- | --- | --- | --- |")
    specs = list(NODE_PARAMETERS) + list(camera_parameters("<name>"))
    for spec in specs:
        if spec.choices:
            bounds = ", ".join(spec.choices)
        elif spec.minimum is not None:
            bounds = f"[{spec.minimum}, {spec.maximum}]"
        else:
            bounds = ""
        runtime = "reloads model" if spec.reloads_model else "yes"
        if spec.read_only:
            runtime = "read-only"
        rows.append(
            f"| `{spec.name}` | {spec.type_name} | `{spec.default!r}` | {bounds} | {runtime} "
            f"| {spec.description.replace('<', '&lt;').replace('>', '&gt;')} |"
        )
    return "\n".join(rows)
