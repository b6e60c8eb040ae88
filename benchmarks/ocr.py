"""What burned-in text detection costs, and that it costs nothing where it does not run.

    .venv/bin/python benchmarks/ocr.py                 # 3 repetitions, 100 CT slices
    .venv/bin/python benchmarks/ocr.py --repeat 5 --ct 200

Three measurements, each the median over repetitions (the engine is created and warmed up
once, untimed, as a batch worker does):

1. **Per frame**: one RGB ultrasound-like frame of 512x512 and of 1024x1024 with a patient
   banner and machine text, through ``create_default_core().deidentify`` (decode, detection,
   blanking, re-encoding, rules): the whole cost, and the detection alone
   (:func:`idiscore.pixels.ocr.find_text`); and the same frames without text.
2. **Cine**: a 60-frame 480x640 loop (static banner and labels, an image area whose pixels
   change on every frame, a clock that changes every 10 frames): idiscore's detection
   (static part once, varying areas per distinct crop) against reading every whole frame
   (timed on 10 frames and scaled to 60).
3. **Mixed batch**: CT slices of the benchmark corpus and ultrasound files together through
   :func:`idiscore.batch.run_batch` (1 process), with text detection on and off; the CT
   files' median seconds per file (from the report) in both, whose ratio must stay 1.00
   within noise: the policy sends only the ultrasounds to the detector.

Results are printed and written to ``benchmarks/ocr_results.md`` with the machine and its load
average (the development machine is shared: absolute times move with the load, ratios less).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

RESULTS_PATH = HERE / "ocr_results.md"
#: the whole-frame reading of the loop is timed on this many frames and scaled to the loop
_NAIVE_FRAMES = 10
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if FONT.exists():
        return ImageFont.truetype(str(FONT), size)
    return ImageFont.load_default(size=size)


def _frame(rows: int, columns: int, text: bool, seed: int = 0, clock: int = 0) -> np.ndarray:
    """An ultrasound-like RGB frame: dark surround, a speckled sector, labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:columns]
    sector = ((yy - rows * 0.1) ** 2 + (xx - columns / 2) ** 2 < (rows * 0.8) ** 2) & (
        np.abs(xx - columns / 2) < (yy - rows * 0.1) * 0.8
    )
    grey = np.where(sector, 40 + rng.random((rows, columns)) * 120, 5).astype(np.uint8)
    picture = Image.fromarray(np.stack([grey] * 3, axis=-1))
    if text:
        draw = ImageDraw.Draw(picture)
        size = max(12, rows // 40)
        draw.text(
            (8, 6), "DOE^JOHN  1961-04-12  ID 20240517", fill=(240, 240, 240), font=_font(size)
        )
        draw.text(
            (8, 8 + 2 * size), "ST ELSEWHERE HOSPITAL", fill=(240, 240, 240), font=_font(size)
        )
        for line, label in enumerate(("C5-1", "2.5MHz", "TIS0.5", "MI 1.2", "Gn 60")):
            y = rows // 4 + line * 2 * size
            draw.text((columns - 6 * size, y), label, fill=(220, 220, 120), font=_font(size))
        draw.text((8, rows - 2 * size), f"12:3{clock}:00", fill=(240, 240, 240), font=_font(size))
    return np.asarray(picture)


def _dataset(frames: list[np.ndarray], number: int) -> Dataset:
    rows, columns = frames[0].shape[:2]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    ds.file_meta.MediaStorageSOPInstanceUID = f"2.25.4242{number}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = US_MULTIFRAME
    ds.SOPInstanceUID = f"2.25.4242{number}"
    ds.StudyInstanceUID = "2.25.4243"
    ds.SeriesInstanceUID = "2.25.4244"
    ds.PatientName = "Doe^John"
    ds.PatientID = "20240517"
    ds.Modality = "US"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = len(frames)
    ds.PixelData = np.stack(frames).tobytes()
    return ds


def _median_time(action: Callable[[], object], repeat: int) -> float:
    from idiscore.pixels.ocr import forget_text_results

    times = []
    for _ in range(repeat):
        forget_text_results()  # measure reading, not remembering
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_frame(repeat: int) -> list[tuple[str, float, float, int]]:
    from idiscore.defaults import create_default_core
    from idiscore.pixels.layout import PixelLayout
    from idiscore.pixels.ocr import TextDetection, find_text

    core = create_default_core()
    rows = []
    for size in (512, 1024):
        for text in (True, False):
            ds = _dataset([_frame(size, size, text)], size + int(text))
            layout = PixelLayout.from_dataset(ds)
            detection = TextDetection()
            findings = find_text(ds, layout, ExplicitVRLittleEndian, detection)
            detect = _median_time(
                lambda ds=ds, layout=layout, detection=detection: find_text(
                    ds, layout, ExplicitVRLittleEndian, detection
                ),
                repeat,
            )
            whole = _median_time(lambda ds=ds: core.deidentify(ds), repeat)
            label = f"{size}x{size} RGB, {'with text' if text else 'no text'}"
            rows.append((label, detect, whole, len(findings.boxes)))
    return rows


def cine(repeat: int, frames: int = 60) -> dict[str, float]:
    from idiscore.pixels.layout import PixelLayout
    from idiscore.pixels.ocr import TextDetection, _enlarged, find_text, upscale_factor
    from idiscore.pixels.text import get_detector

    loop = [_frame(480, 640, True, seed=index, clock=index // 10) for index in range(frames)]
    ds = _dataset(loop, 60)
    layout = PixelLayout.from_dataset(ds)
    detection = TextDetection()
    findings = find_text(ds, layout, ExplicitVRLittleEndian, detection)
    if not findings.detector_runs:
        raise AssertionError("the loop was remembered, not read")
    smart = _median_time(
        lambda: find_text(ds, layout, ExplicitVRLittleEndian, detection), max(1, repeat // 2)
    )
    detector = get_detector("rapidocr")
    factor = upscale_factor(480, 640, detection.min_side)

    def every_frame() -> None:
        for frame in loop[:_NAIVE_FRAMES]:
            detector.detect(frame)
            if factor > 1:
                detector.detect(np.ascontiguousarray(_enlarged(frame, factor)))

    naive = _median_time(every_frame, 1) * frames / _NAIVE_FRAMES
    return {
        "frames": frames,
        "idiscore_s": smart,
        "idiscore_runs": findings.detector_runs,
        "boxes": len(findings.boxes),
        "every_frame_s": naive,
    }


def mixed_batch(repeat: int, ct_files: int, us_files: int) -> dict[str, float]:
    from idiscore.batch import BatchOptions, run_batch
    from idiscore.defaults import DEFAULT_TEXT_DETECTION, create_default_core
    from idiscore.pixels.ocr import forget_text_results

    ct = corpus.ensure_ct(ct_files, quiet=True)
    medians: dict[str, list[float]] = {"on": [], "off": []}
    us_seconds: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        inputs = root / "in"
        (inputs / "ct").mkdir(parents=True)
        (inputs / "us").mkdir()
        for path in ct:
            os.symlink(path, inputs / "ct" / path.name)
        for index in range(us_files):
            still = _dataset([_frame(480, 640, True, seed=index)], 900 + index)
            still.save_as(inputs / "us" / f"us_{index}.dcm", enforce_file_format=True)
        for repetition in range(repeat):
            for mode in ("on", "off") if repetition % 2 == 0 else ("off", "on"):
                detection = None if mode == "off" else DEFAULT_TEXT_DETECTION
                core = create_default_core(text_detection=detection)
                forget_text_results()
                report = root / f"report_{mode}_{repetition}.jsonl"
                out = root / f"out_{mode}_{repetition}"
                run_batch(core, [inputs], BatchOptions(output=out, report=report, workers=1))
                records = [json.loads(line) for line in report.read_text().splitlines()]
                ct_times = [r["seconds"] for r in records if "/ct/" in r["input"]]
                medians[mode].append(statistics.median(ct_times))
                if mode == "on":
                    us_seconds += [r["seconds"] for r in records if "/us/" in r["input"]]
    on, off = statistics.median(medians["on"]), statistics.median(medians["off"])
    return {
        "ct_files": ct_files,
        "us_files": us_files,
        "ct_on_ms": on * 1000,
        "ct_off_ms": off * 1000,
        "ratio": on / off,
        "us_on_s": statistics.median(us_seconds),
    }


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ct", type=int, default=100, help="CT slices in the mixed batch")
    parser.add_argument("--us", type=int, default=4, help="ultrasound files in the mixed batch")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)

    from idiscore.pixels.text import engine_available, get_detector

    if not engine_available("rapidocr"):
        print("text detection is not installed: pip install 'idiscore[ocr]'", file=sys.stderr)
        return 2
    load_before = _load()
    started = time.perf_counter()
    get_detector("rapidocr").detect(np.zeros((64, 64, 3), dtype=np.uint8))  # warm-up
    frames = per_frame(args.repeat)
    loop = cine(args.repeat)
    mixed = mixed_batch(args.repeat, args.ct, args.us)
    wall = time.perf_counter() - started

    import pydicom

    from idiscore import __version__

    lines = [
        "# idiscore: burned-in text detection benchmark",
        "",
        f"- **date**: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- **command**: .venv/bin/python benchmarks/ocr.py {' '.join(argv or sys.argv[1:])}",
        f"- **machine**: {os.cpu_count()} CPUs, {platform.platform()}",
        f"- **load average (1 min)**: {load_before} before, {_load()} after",
        f"- **versions**: Python {platform.python_version()}, pydicom {pydicom.__version__}, "
        f"idiscore {__version__}",
        f"- **repetitions**: {args.repeat}; figures are medians; wall time {wall:.0f} s",
        "",
        "## Per frame (engine rapidocr, mode all, default settings)",
        "",
        "| frame | detection (s) | whole `deidentify` (s) | boxes |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {label} | {d:.2f} | {w:.2f} | {b} |" for label, d, w, b in frames]
    lines += [
        "",
        f"## Cine loop ({loop['frames']} frames, 480x640 RGB)",
        "",
        "| method | detector runs | time (s) | per frame (s) |",
        "|---|---:|---:|---:|",
        f"| idiscore: static part once, varying areas per distinct crop | "
        f"{loop['idiscore_runs']} | {loop['idiscore_s']:.2f} | "
        f"{loop['idiscore_s'] / loop['frames']:.3f} |",
        f"| every whole frame read (timed on {_NAIVE_FRAMES} frames, scaled) | "
        f"{loop['frames']} | {loop['every_frame_s']:.2f} | "
        f"{loop['every_frame_s'] / loop['frames']:.3f} |",
        "",
        f"{loop['boxes']} boxes found; speed-up "
        f"{loop['every_frame_s'] / loop['idiscore_s']:.1f}x.",
        "",
        f"## Mixed batch ({mixed['ct_files']} CT slices + {mixed['us_files']} ultrasound "
        "images, 1 process)",
        "",
        "| text detection | CT median per file (ms) | ultrasound median per file (s) |",
        "|---|---:|---:|",
        f"| on (default) | {mixed['ct_on_ms']:.1f} | {mixed['us_on_s']:.2f} |",
        f"| off (`--no-ocr`; the ultrasounds are rejected) | {mixed['ct_off_ms']:.1f} | - |",
        "",
        f"CT time with detection on / off: **{mixed['ratio']:.2f}x** (the CT slices are "
        "never read: the policy does not flag them).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.results.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
