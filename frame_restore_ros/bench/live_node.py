"""``frame-restore bench live``: the node measured across processes over real ROS 2 DDS.

One measurement (:func:`measure`) starts three processes on a ROS domain of their own: the node
(its console script, ``--params-file``), a camera publisher streaming bigbuckbunny.mp4 scaled to
the asked size on N cameras (raw bgr8, every 10th frame with two dead blocks, stamped when sent)
and this process as the recorder of ``T/restored`` and ``/diagnostics``. It reports:

- end-to-end latency: header stamp (set when the publisher sent the frame) to ``T/restored``
  received by the recorder, p50 / p99 over every camera, after the first second (warm-up);
- frames lost in transport: sent but never reached the node (sent minus the node's own count of
  what reached it: ``frames.total`` + ``dropped.total`` + ``bad_messages.total``), apart from
  frames the node dropped itself (``dropped.*``: superseded while the worker was busy);
- CPU of the node process (``/proc/PID/stat``) while frames flowed, in % of one core.

:func:`find_max_rate` searches the highest rate a configuration sustains: doubling from a start
rate, then bisecting between the last rate that held and the first that did not.
"""

from __future__ import annotations

import json
import math
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from frame_restore_ros.bench import live_processes
from frame_restore_ros.bench.live_publisher import CameraStream, StreamPlan
from frame_restore_ros.node.parameters import NODE_PARAMETERS

DIAGNOSTICS_PERIOD_S = 0.5
START_TIMEOUT_S = 60.0
RECEIVED_KEYS = ("frames.total", "dropped.total", "bad_messages.total", "exceptions.total")
SUSTAINED_SHARE = 0.99  # of the sent frames that must come out restored
SUSTAINED_RATE_SHARE = 0.95  # of the asked rate the publisher must achieve
WARMUP_S = 1.0  # the first second's frames count for loss, not for latency


def qos_choices() -> tuple[str, ...]:
    """Return the node's ``qos.reliability`` choices (its parameter table)."""
    spec = next(s for s in NODE_PARAMETERS if s.name == "qos.reliability")
    return tuple(spec.choices or ())


@dataclass(frozen=True)
class LiveConfig:
    """One measured configuration."""

    cameras: int
    width: int
    height: int
    rate_hz: float
    reliability: str  # the node's qos.reliability
    transport: str = "default"  # live_processes.TRANSPORTS
    seconds: float = 8.0
    backend: str = "hold"
    damage_every: int = 10
    publisher_reliability: str = "reliable"

    def __post_init__(self) -> None:
        """Refuse what would hang (no camera) or crash the publisher (no positive rate)."""
        if self.cameras < 1 or min(self.width, self.height) < 1:
            raise ValueError(f"cameras and size must be >= 1, got {self.label()}")
        if not (math.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValueError(f"rate must be a finite number > 0 Hz, got {self.rate_hz}")
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"seconds must be a finite number > 0, got {self.seconds}")

    def plan(self) -> StreamPlan:
        frames = max(int(self.rate_hz * self.seconds), 1)
        return StreamPlan(
            cameras=tuple(CameraStream(f"/bench/cam{i}/image_raw") for i in range(self.cameras)),
            frames=frames,
            rate_hz=self.rate_hz,
            video="bigbuckbunny.mp4",
            width=self.width,
            height=self.height,
            distinct=min(frames, 30),
            damage_every=self.damage_every,
            reliability=self.publisher_reliability,
        )

    def label(self) -> str:
        return (
            f"{self.cameras}x {self.width}x{self.height} @ {self.rate_hz:g} Hz, "
            f"{self.reliability}, {self.transport}"
        )


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def _received_totals(recorder: object, cameras: int, after_ns: int) -> list[int] | None:
    """Per camera, what reached the node by its newest diagnostics after ``after_ns``."""
    totals = []
    for i in range(cameras):
        status = recorder.latest(f": camera{i}", after_ns)
        if status is None:
            return None
        totals.append(sum(int(status.values[k]) for k in RECEIVED_KEYS))
    return totals


def _final_statuses(recorder: object, cameras: int, after_ns: int) -> list[dict[str, str]]:
    """Wait until the node's counters settle (two reports alike); return each camera's last."""
    previous = None
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        time.sleep(DIAGNOSTICS_PERIOD_S * 1.2)
        totals = _received_totals(recorder, cameras, after_ns)
        if totals is not None and totals == previous:
            break
        previous = totals
    return [recorder.latest(f": camera{i}").values for i in range(cameras)]


def measure(config: LiveConfig, workdir: Path, run_number: int = 0) -> dict[str, object]:
    """Run ``config`` once (node, publisher and recorder processes); return its numbers."""
    from frame_restore_ros.bench.live_recorder import LiveRecorder

    plan = config.plan()
    domain = live_processes.domain_for(os.getpid() + run_number)
    env = live_processes.ros_environment(domain, config.transport)
    parameters = {
        "backend": config.backend,
        "qos": {"reliability": config.reliability},
        "diagnostics": {"period_s": DIAGNOSTICS_PERIOD_S},
    }
    params = live_processes.write_parameters(workdir / "params.yaml", plan, parameters)
    node = live_processes.start_node(params, env, workdir / "node.log")
    publisher = None
    try:
        with LiveRecorder(domain, plan.cameras, environment=env) as recorder:
            if not recorder.wait_for_node(START_TIMEOUT_S):
                raise RuntimeError(f"the node did not come up:\n{node.output()[-2000:]}")
            publisher = live_processes.start_publisher(
                plan, workdir / "sent.json", env, workdir / "publisher.log"
            )
            samples = []  # (monotonic s, node CPU s, outputs received)
            timeout = time.monotonic() + START_TIMEOUT_S + config.seconds * 3
            while publisher.popen.poll() is None and time.monotonic() < timeout:
                count = sum(recorder.count(c.topic) for c in plan.cameras)
                samples.append((time.monotonic(), live_processes.cpu_seconds(node.pid), count))
                time.sleep(0.2)
            if publisher.popen.poll() != 0:
                raise RuntimeError(f"the publisher failed:\n{publisher.output()[-2000:]}")
            finished_ns = time.time_ns()
            statuses = _final_statuses(recorder, config.cameras, finished_ns)
            restored = {c.topic: list(recorder.restored[c.topic]) for c in plan.cameras}
        node.stop(signal.SIGINT)
    finally:
        for process in (publisher, node):
            if process is not None:
                process.stop(signal.SIGKILL)
    report = json.loads((workdir / "sent.json").read_text())
    return _summarise(config, report, restored, statuses, samples)


def _node_cpu_percent(samples: list[tuple[float, float, int]]) -> float | None:
    """Node CPU over the samples while outputs arrived, % of one core."""
    flowing = [s for s in samples if s[2] > 0]
    if len(flowing) < 2:
        return None
    last = next(s for s in flowing if s[2] == flowing[-1][2])  # first sample at the final count
    first = flowing[0]
    if last[0] <= first[0]:
        return None
    return round(100 * (last[1] - first[1]) / (last[0] - first[0]), 1)


def _summarise(
    config: LiveConfig,
    report: dict[str, object],
    restored: dict[str, list[object]],
    statuses: list[dict[str, str]],
    samples: list[tuple[float, float, int]],
) -> dict[str, object]:
    sent = report["sent"]
    total_sent = sum(len(v) for v in sent.values())
    reached = sum(sum(int(s[k]) for k in RECEIVED_KEYS) for s in statuses)
    dropped = sum(int(s["dropped.total"]) for s in statuses)
    latencies, outputs = [], 0
    warmup = int(config.rate_hz * WARMUP_S)
    for topic, frames in sent.items():
        steady = {stamp for index, stamp in frames if index >= warmup}
        seen = {r.stamp_ns: r.received_ns for r in restored[topic]}
        outputs += sum(stamp in seen for _, stamp in frames)
        latencies += [(seen[stamp] - stamp) / 1e6 for stamp in steady if stamp in seen]
    lost = total_sent - reached
    return {
        "config": asdict(config),
        "sent": total_sent,
        "achieved_rate_hz": round(len(next(iter(sent.values()))) / report["elapsed_s"], 2),
        "publisher_late": report["late"],
        "reached_node": reached,
        "lost_in_transport": lost,
        "lost_in_transport_pct": round(100 * lost / max(total_sent, 1), 2),
        "dropped_by_node": dropped,
        "dropped_by_node_pct": round(100 * dropped / max(total_sent, 1), 2),
        "restored_received": outputs,
        "latency_ms_p50": _percentile(latencies, 50),
        "latency_ms_p99": _percentile(latencies, 99),
        "node_cpu_pct": _node_cpu_percent(samples),
    }


def sustained(result: dict[str, object]) -> bool:
    """Whether a measurement kept up: the publisher held the rate and ~every frame came out."""
    config = result["config"]
    return (
        "error" not in result
        and result["achieved_rate_hz"] >= SUSTAINED_RATE_SHARE * config["rate_hz"]
        and result["restored_received"] >= SUSTAINED_SHARE * result["sent"]
    )


Progress = Callable[[str | None], None]  # a label when a measurement starts, None when done


def run_matrix(
    configs: Iterable[LiveConfig], progress: Progress | None = None
) -> list[dict[str, object]]:
    """Measure each configuration in turn; one that cannot run is recorded with its error."""
    results = []
    for number, config in enumerate(configs):
        if progress:
            progress(config.label())
        with tempfile.TemporaryDirectory(prefix="frame_restore_live_") as tmp:
            try:
                results.append(measure(config, Path(tmp), number))
            except (RuntimeError, OSError, ValueError, KeyError) as exc:
                results.append({"config": asdict(config), "error": str(exc)[-500:]})
        if progress:
            progress(None)
    return results


def find_max_rate(
    config: LiveConfig,
    start_hz: float = 5.0,
    limit_hz: float = 120.0,
    bisections: int = 3,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Find the highest rate ``config`` sustains (:func:`sustained`), to the nearest 1 Hz.

    Doubles from ``start_hz`` (halves while it fails), then bisects ``bisections`` times.
    Returns ``max_rate_hz`` (0 if not even 1 Hz held) and every measurement made.
    """
    tried: list[dict[str, object]] = []

    def holds(rate: float) -> bool:
        tried.extend(run_matrix([replace(config, rate_hz=rate)], progress))
        return sustained(tried[-1])

    good, bad = 0.0, None
    rate = start_hz
    while rate <= limit_hz:
        if not holds(rate):
            bad = rate
            break
        good, rate = rate, rate * 2
    while good == 0 and bad is not None and bad / 2 >= 1.0:  # the start failed: halve
        if holds(bad / 2):
            good = bad / 2
        else:
            bad = bad / 2
    if bad is not None and good > 0:
        for _ in range(bisections):
            middle = round((good + bad) / 2)
            if middle in (good, bad):
                break
            if holds(middle):
                good = middle
            else:
                bad = middle
    return {"config": asdict(config), "max_rate_hz": good, "first_failed_hz": bad, "runs": tried}


def format_results(results: list[dict[str, object]]) -> str:
    """Render measurements as a markdown table."""
    rows = [
        "| cameras | size | rate Hz (achieved) | node QoS | transport | sent | lost in transport "
        "| dropped by node | restored received | latency p50 / p99 ms | node CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        c = r["config"]
        if "error" in r:
            rows.append(
                f"| {c['cameras']} | {c['width']}x{c['height']} | {c['rate_hz']:g} "
                f"| {c['reliability']} | {c['transport']} | failed: "
                f"{r['error'].splitlines()[0]} | | | | | |"
            )
            continue
        rows.append(
            f"| {c['cameras']} | {c['width']}x{c['height']} | {c['rate_hz']:g} "
            f"({r['achieved_rate_hz']:g}) | {c['reliability']} | {c['transport']} | {r['sent']} "
            f"| {r['lost_in_transport']} ({r['lost_in_transport_pct']:g} %) "
            f"| {r['dropped_by_node']} ({r['dropped_by_node_pct']:g} %) "
            f"| {r['restored_received']} | {r['latency_ms_p50']} / {r['latency_ms_p99']} "
            f"| {r['node_cpu_pct']} % |"
        )
    return "\n".join(rows)


def format_max_rates(searches: list[dict[str, object]]) -> str:
    """Render find-max results, one line per configuration."""
    lines = []
    for s in searches:
        c = s["config"]
        lines.append(
            f"{c['cameras']} camera(s) {c['width']}x{c['height']} {c['reliability']} "
            f"{c['transport']}: max sustained {s['max_rate_hz']:g} Hz"
            + (f" (failed at {s['first_failed_hz']:g} Hz)" if s["first_failed_hz"] else "")
        )
    return "\n".join(lines)
