"""Derive clean clips the detector was never tuned on, to measure its false alarms there.

Usage: .venv/bin/python scripts/derive_clips.py OUT [--data ../shared/data] [--kinds fps10 ...]
then:  frame-restore eval-detection --data OUT/fps10 --max-frames 300

Each clip of ``--data`` (and bikes.mp4) is rewritten, lossless (FFV1) unless said otherwise, as:
  fps10  every n-th frame, so that about 10 frames a second remain (10-12 Hz is what many
         automotive cameras and datasets run at; objects move 3x as far between frames);
         clips already at <= 15 fps are left out;
  jpeg   intra-only Motion-JPEG at quality 30: another codec, with block artefacts and no
         bit-identical skipped regions;
  noise  fresh Gaussian sensor noise (sigma 3 levels) on every frame;
  dusk   a quarter of the light: each frame darkened in linear light (sRGB decoded, x0.25,
         encoded again), with fresh sensor noise of sigma 2 levels: dark, low-contrast scene;
  hd1080 upscaled to 1920x1080 (bicubic): a larger sensor behind soft optics, with texture
         spread over more pixels (the false-alarm tool feeds 1080p);
  mpeg4  re-encoded with OpenCV's MPEG-4 Part 2 encoder (mp4v, its default quality): another
         inter-frame codec, with its own skipped (bit-identical) blocks.
  mono   a monochrome camera (many driving cameras are): each frame's luma in all three
         channels, as the node shows a mono8 image: grey everywhere, so colour tells nothing;
  contrast a cheap camera's harsh tone curve: (luma - 30) x 1.4, clipped (blacks crushed to 0
         in whole regions, highlights clipped at 255): flat black and white scene;
  h264   re-encoded with libx264 at CRF 28 (preset medium, yuv420p), what most dashcams record:
         deblocked, smoothed dark areas, skipped blocks. Needs PyAV (`pip install -e
         ".[derive]"`): OpenCV's pip wheels carry no H.264 encoder, PyAV's carry FFmpeg's x264.
  flicker the exposure flickering: frame i with (1 + 0.2 sin(2 pi i / 2.7)) times the light
         (linear light, as dusk), LED or mains lighting beating with the frame rate, or an
         auto exposure hunting: every level moves from frame to frame, nothing failed;
  stills one clip of unrelated stills played as a video (a dataset's stills in a folder, a
         camera switch every frame): frame i from clip i mod n at a random time, 1280x720,
         through JPEG at quality 85; day, night and pillarboxed scenes follow each other.
The derived clips are clean: every flagged pixel is a false alarm. They are written under OUT
(a scratch folder, e.g. out/derived; never inside the package) and, like their sources, are for
measuring only.
"""

from __future__ import annotations

import argparse
import importlib.util
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from frame_restore_ros.media.video import iter_frames, sample_video_path, video_fps

KINDS = (
    "fps10",
    "jpeg",
    "noise",
    "dusk",
    "hd1080",
    "mpeg4",
    "h264",
    "contrast",
    "mono",
    "flicker",
    "stills",
)
FLICKER_DEPTH = 0.2  # the light's swing, linear (about +-8 % of a mid-grey's level)
FLICKER_PERIOD = 2.7  # frames: a beat that never lines up with the frame rate
STILLS_FRAMES = 90  # frames of the stills clip (the false-alarm tool reads 60 from its middle)
STILLS_SIZE = (1280, 720)
MAX_FRAMES = 300  # frames written per derived clip (eval-detection reads 300)
H264_CRF = 28  # x264's quality scale (lower is better): 23 is its default, dashcams sit near 28


def _write(path: Path, frames: list[np.ndarray], fps: float, fourcc: str = "FFV1") -> None:
    """Write (H, W, 3) uint8 BGR ``frames`` to ``path`` at ``fps``."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")
    if fourcc == "MJPG":
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 30)
    for frame in frames:
        writer.write(frame)
    writer.release()


def derive(clip: Path, kind: str, out: Path, rng: np.random.Generator) -> Path | None:
    """Write ``clip``'s derived version of ``kind`` under ``out``; None when it does not apply."""
    fps = video_fps(clip, default=30.0)
    name = clip.stem
    if kind == "fps10":
        step = round(fps / 10)
        if step < 2:
            return None
        frames = list(iter_frames(clip, max_frames=MAX_FRAMES, step=step))
        return _save(out / f"{name}_10fps.avi", frames, fps / step)
    frames = list(iter_frames(clip, max_frames=MAX_FRAMES))
    if kind == "jpeg":
        return _save(out / f"{name}_mjpg.avi", frames, fps, "MJPG")
    if kind == "dusk":
        dark = [_darken(f, 0.25) for f in frames]
        noisy = [np.clip(f + rng.normal(0.0, 2.0, f.shape), 0, 255).astype(np.uint8) for f in dark]
        return _save(out / f"{name}_dusk.avi", noisy, fps)
    if kind == "hd1080":
        large = [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_CUBIC) for f in frames]
        return _save(out / f"{name}_1080p.avi", large, fps)
    if kind == "mpeg4":
        return _save(out / f"{name}_mpeg4.mp4", frames, fps, "mp4v")
    if kind == "contrast":
        harsh = np.clip((np.arange(256) - 30) * 1.4, 0, 255).astype(np.uint8)
        return _save(out / f"{name}_contrast.avi", [harsh[f] for f in frames], fps)
    if kind == "mono":
        grey = [
            cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) for f in frames
        ]
        return _save(out / f"{name}_mono.avi", grey, fps)
    if kind == "flicker":
        phase = 2.0 * np.pi / FLICKER_PERIOD
        lit = [_darken(f, 1.0 + FLICKER_DEPTH * np.sin(phase * i)) for i, f in enumerate(frames)]
        return _save(out / f"{name}_flicker.avi", lit, fps)
    if kind == "h264":
        path = out / f"{name}_h264.mp4"
        _write_h264(path, frames, fps)
        return path
    noisy = [np.clip(f + rng.normal(0.0, 3.0, f.shape), 0, 255).astype(np.uint8) for f in frames]
    return _save(out / f"{name}_noise.avi", noisy, fps)


def derive_stills(clips: list[Path], out: Path, rng: np.random.Generator) -> Path:
    """Write one clip of stills from ``clips`` taking turns, each at a random time."""
    captures = [cv2.VideoCapture(str(clip)) for clip in clips]
    frames = []
    try:
        for index in range(STILLS_FRAMES):
            capture = captures[index % len(captures)]
            # The first 90 % of the clip: a container's frame count may overstate the end.
            total = max(1, int(0.9 * capture.get(cv2.CAP_PROP_FRAME_COUNT)))
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(rng.integers(0, total)))
            ok, frame = capture.read()
            if not ok:
                raise RuntimeError(f"cannot read a frame of {clips[index % len(clips)]}")
            larger = frame.shape[1] < STILLS_SIZE[0]
            frame = cv2.resize(
                frame, STILLS_SIZE, interpolation=cv2.INTER_CUBIC if larger else cv2.INTER_AREA
            )
            encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
            frames.append(cv2.imdecode(encoded, cv2.IMREAD_COLOR))
    finally:
        for capture in captures:
            capture.release()
    return _save(out / "stills_slideshow.avi", frames, 10.0)


def _darken(frame: np.ndarray, light: float) -> np.ndarray:
    """(H, W, 3) uint8 sRGB frame as it would look with ``light`` times the light (linear)."""
    values = frame.astype(np.float32) / 255.0
    linear = np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)
    linear *= light
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(encoded * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _write_h264(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """Write (H, W, 3) uint8 BGR ``frames`` to ``path`` with libx264 at :data:`H264_CRF`.

    yuv420p needs even sizes: an odd last row or column is left out.
    """
    try:
        import av
    except ImportError as error:
        raise RuntimeError('the h264 kind needs PyAV: pip install -e ".[derive]"') from error
    height, width = (size - size % 2 for size in frames[0].shape[:2])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(H264_CRF), "preset": "medium"}
        for frame in frames:
            picture = np.ascontiguousarray(frame[:height, :width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="bgr24")))
        container.mux(stream.encode())


def _save(path: Path, frames: list[np.ndarray], fps: float, fourcc: str = "FFV1") -> Path:
    _write(path, frames, fps, fourcc)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="scratch folder; one subfolder per kind")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="clean clips")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    args = parser.parse_args()
    if "h264" in args.kinds and importlib.util.find_spec("av") is None:
        parser.error('--kinds h264 needs PyAV: pip install -e ".[derive]" (or leave h264 out)')
    clips = sorted(args.data.glob("*.mp4")) + sorted(args.data.glob("*.avi"))
    clips.append(sample_video_path("bikes.mp4"))
    rng = np.random.default_rng(0)
    if "stills" in args.kinds:
        folder = args.out / "stills"
        folder.mkdir(parents=True, exist_ok=True)
        print(f"stills: {len(clips)} clips -> {derive_stills(clips, folder, rng)}")
    jobs = [(clip, kind) for kind in args.kinds if kind != "stills" for clip in clips]
    for clip, kind in tqdm(jobs, desc="deriving", unit="clip", disable=not jobs):
        folder = args.out / kind
        folder.mkdir(parents=True, exist_ok=True)
        written = derive(clip, kind, folder, rng)
        tqdm.write(f"{kind}: {clip.name} -> {written or 'left out (already <= 15 fps)'}")


if __name__ == "__main__":
    main()
