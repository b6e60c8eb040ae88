"""``idiscore explain FILE --preview out.png``: the image before and after, boxes outlined.

The first frame of the input is drawn on the left and the de-identified one on the right,
each blanked rectangle (text boxes and location rectangles) outlined in red on both, so that
a person can check what will be blanked before running a batch. Pixels are shown the way
text detection sees them (:func:`idiscore.pixels.ocr.viewable_frames`). The picture shows
what the input shows, PHI included: it is written only where the user asks.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from idiscore.core import PIXEL_FINDINGS, Core
from idiscore.errors import MissingDependencyError, PixelDataProcessingError
from idiscore.pixels._dataset import shallow_copy
from idiscore.pixels.blanking import Region
from idiscore.pixels.layout import PixelLayout
from idiscore.pixels.ocr import TextFindings, merge_regions, viewable_frames
from idiscore.pixels.processor import PixelProcessor, _decoding_syntax

_GAP = 8  # pixels between the two pictures
_OUTLINE = (255, 0, 0)


def findings_of(dataset: Dataset | None) -> TextFindings | None:
    """The text detection findings the Core left on a de-identified dataset, if any."""
    if dataset is None:
        return None
    found: Any = dataset.__dict__.get(PIXEL_FINDINGS)
    return found if isinstance(found, TextFindings) else None


def describe_findings(dataset: Dataset | None) -> list[str]:
    """Lines saying where text was found (coordinates and frames, never the text)."""
    findings = findings_of(dataset)
    if findings is None:
        return []
    lines = [
        f"burned-in text ({findings.engine}, mode {findings.mode}): {len(findings.boxes)} "
        f"box(es) on {findings.frames} frame(s), {findings.detector_runs} detector run(s)"
    ]
    for box in findings.boxes:
        frames = "every frame" if box.frames is None else f"frames {list(box.frames)}"
        lines.append(f"  x={box.x} y={box.y} width={box.width} height={box.height} ({frames})")
    return lines


def _first_frame(dataset: Dataset) -> np.ndarray:
    copy = shallow_copy(dataset)
    layout = PixelLayout.from_dataset(copy)
    frame = viewable_frames(copy, layout, _decoding_syntax(copy))[0]
    return frame if frame.ndim == 3 else np.repeat(frame[:, :, None], 3, axis=2)


def _regions(core: Core, dataset: Dataset, output: Dataset | None) -> list[Region]:
    regions: list[Region] = []
    processor = core.pixel_processor
    if isinstance(processor, PixelProcessor):
        layout = PixelLayout.from_dataset(shallow_copy(dataset))
        for location in processor.locations.get_matching(dataset):
            for area in location.areas:
                region = area.clipped(layout.rows, layout.columns)
                if region is not None:
                    regions.append(region)
    findings = findings_of(output)
    return merge_regions(regions, findings.regions if findings is not None else ())


def write_preview(core: Core, dataset: Dataset, output: Dataset | None, path: Path) -> str:
    """Write the before/after PNG to ``path`` (atomically); return a line saying so."""
    try:
        from PIL import Image, ImageDraw
    except ImportError as error:
        raise MissingDependencyError("--preview needs Pillow: install idiscore[ocr]") from error
    try:
        before = _first_frame(dataset)
    except PixelDataProcessingError as error:
        return f"preview: not written ({error})"
    after = _first_frame(output) if output is not None else np.zeros_like(before)
    rows, columns = before.shape[:2]
    canvas = Image.new("RGB", (2 * columns + _GAP, max(rows, after.shape[0])), (40, 40, 40))
    canvas.paste(Image.fromarray(before), (0, 0))
    canvas.paste(Image.fromarray(after), (columns + _GAP, 0))
    draw = ImageDraw.Draw(canvas)
    regions = _regions(core, dataset, output) if output is not None else []
    for top, bottom, left, right in regions:
        for offset in (0, columns + _GAP):
            draw.rectangle((left + offset, top, right - 1 + offset, bottom - 1), outline=_OUTLINE)
    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=".preview-", suffix=".png", dir=path.parent or ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            canvas.save(stream, format="PNG")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    state = "after" if output is not None else "not de-identified"
    return f"preview: {path} (before | {state}, {len(regions)} blanked box(es) outlined)"


__all__ = ["describe_findings", "findings_of", "write_preview"]
