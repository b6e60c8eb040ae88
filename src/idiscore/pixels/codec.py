"""Decode encapsulated pixel data, blank it frame by frame, and re-encode it losslessly.

Frames are decoded with pydicom's decoders, blanked, and encoded with the first *output
candidate* that accepts them:

1. the input transfer syntax itself, when it is lossless and pydicom can encode it
   (RLE Lossless, JPEG-LS Lossless, JPEG 2000 Lossless);
2. the processor's preference list, by default JPEG-LS Lossless, JPEG 2000 Lossless,
   RLE Lossless (each used only if its encoder is installed and its profile in PS3.5
   accepts the data - e.g. RLE takes at most 16 bits, JPEG-LS YBR_FULL only 8 bits);
3. Explicit VR Little Endian (uncompressed), which takes everything.

With ``verify=True`` each encoded frame is decoded again and compared with the blanked
frame; a candidate whose round trip is not exact is skipped. Lossy input therefore loses
nothing more: it is decoded once and stored losslessly from then on (its lossy history stays
recorded in Lossy Image Compression).

The decoded description (Photometric Interpretation, Bits Stored, Pixel Representation)
is what gets written, except that RGB written as JPEG 2000 Lossless goes through the
reversible colour transform and is described as YBR_RCT. Colour comes out of decoding as
RGB - YBR_FULL and YBR_FULL_422 are converted by pydicom exactly as for
``Dataset.pixel_array``, YBR_ICT/YBR_RCT by the JPEG 2000 decoder - so the output shows what
any pydicom-based viewer showed for the input, and RGB is allowed by every colour IOD for
the other syntaxes (YBR_FULL is not, e.g. in the ultrasound IODs).
YBR_PARTIAL_4xx data is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.encoders.base import get_encoder
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from idiscore.errors import PixelDataProcessingError
from idiscore.pixels.blanking import Region, blank_frame
from idiscore.pixels.layout import PixelLayout, fail

#: Transfer syntaxes idiscore can write cleaned encapsulated pixel data in (all lossless).
ENCODABLE_LOSSLESS: tuple[UID, ...] = (JPEGLSLossless, JPEG2000Lossless, RLELossless)
#: Default order of output candidates after the input's own syntax.
DEFAULT_OUTPUT_SYNTAXES: tuple[UID, ...] = (JPEGLSLossless, JPEG2000Lossless, RLELossless)
_MAX_BASIC_OFFSET = 2**32 - 1

FillFor = Callable[[PixelLayout], Sequence[int]]


@dataclass(frozen=True)
class Reencoded:
    """The result of :func:`transcode`: what to write into the dataset."""

    transfer_syntax: UID
    pixel_data: bytes
    layout: PixelLayout  # the description of the written pixels
    extended_offsets: tuple[bytes, bytes] | None = None

    @property
    def encapsulated(self) -> bool:
        return self.transfer_syntax != ExplicitVRLittleEndian


class _Unsuitable(Exception):
    """This output candidate cannot store the data; try the next one."""


def output_candidates(input_syntax: UID, preference: Sequence[UID]) -> list[UID]:
    candidates: list[UID] = []
    if input_syntax in ENCODABLE_LOSSLESS:
        candidates.append(input_syntax)
    candidates += [uid for uid in preference if uid not in candidates]
    if ExplicitVRLittleEndian not in candidates:
        candidates.append(ExplicitVRLittleEndian)
    return candidates


def _decoded_layout(layout: PixelLayout, meta: dict[str, str | int]) -> PixelLayout:
    photometric = str(meta.get("photometric_interpretation", layout.photometric))
    if photometric not in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB"):
        raise fail(f"decoded pixel data in {photometric} cannot be cleaned")
    return dataclasses.replace(
        layout,
        photometric=photometric,
        bits_stored=int(meta.get("bits_stored", layout.bits_stored)),
        signed=bool(int(meta.get("pixel_representation", int(layout.signed)))),
        planar=0,
    )


def _stored_layout(decoded: PixelLayout, candidate: UID) -> PixelLayout:
    """How ``candidate`` stores decoded pixels: RGB in JPEG 2000 Lossless goes through the
    reversible colour transform and is described as YBR_RCT (PS3.5 8.2.4), the value the
    IODs with an enumerated list (ultrasound, for one) accept for that syntax."""
    if candidate == JPEG2000Lossless and decoded.photometric == "RGB":
        return dataclasses.replace(decoded, photometric="YBR_RCT")
    return decoded


def _jpeg_family(syntax: UID) -> bool:
    """JPEG, JPEG-LS, JPEG 2000 and HTJ2K codestreams all end with the marker FFD9."""
    return syntax.startswith("1.2.840.10008.1.2.4.") and not syntax.startswith(
        "1.2.840.10008.1.2.4.10"  # MPEG-2 / MPEG-4 / HEVC video
    )


def check_complete(dataset: Dataset, syntax: UID, frames: int) -> None:
    """Refuse JPEG-family frames without an end marker.

    JPEG and JPEG-LS decoders accept a truncated codestream and fill the missing part with
    made-up pixels, without an error; the end-of-image marker FFD9 (EOC for JPEG 2000) cannot
    occur inside entropy-coded data, so its absence near the end of a frame means the frame
    is incomplete.
    """
    if not _jpeg_family(syntax):
        return
    offsets = None
    if "ExtendedOffsetTable" in dataset and "ExtendedOffsetTableLengths" in dataset:
        offsets = (dataset.ExtendedOffsetTable, dataset.ExtendedOffsetTableLengths)
    try:
        encoded = list(
            generate_frames(dataset.PixelData, number_of_frames=frames, extended_offsets=offsets)
        )
    except Exception as error:
        # the decoder's message is not quoted (it may quote values): its type is
        raise fail(
            f"{syntax.name} pixel data could not be decoded ({type(error).__name__})"
        ) from None
    if len(encoded) != frames:
        raise fail(f"{syntax.name} pixel data holds {len(encoded)} frame(s), not {frames}")
    for index, frame in enumerate(encoded):
        if b"\xff\xd9" not in bytes(frame[-16:]):
            raise fail(
                f"{syntax.name} pixel data could not be decoded: frame {index} is truncated "
                "or corrupt (no end-of-image marker)"
            )


def _frames(dataset: Dataset, syntax: UID) -> Iterator[tuple[np.ndarray, dict[str, str | int]]]:
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise fail(f"no decoder exists for {syntax.name} ({syntax})") from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies)
        raise fail(f"cannot decode {syntax.name}: install idiscore[codecs] (missing: {missing})")
    try:
        yield from decoder.iter_array(dataset, raw=False)
    except PixelDataProcessingError:
        raise
    except Exception as error:
        # the decoder's message is not quoted (it may quote values): its type is
        raise fail(
            f"{syntax.name} pixel data could not be decoded ({type(error).__name__})"
        ) from None


def _encoder_options(layout: PixelLayout) -> dict[str, Any]:
    return {
        "rows": layout.rows,
        "columns": layout.columns,
        "samples_per_pixel": layout.samples,
        "bits_allocated": layout.bits_allocated,
        "bits_stored": layout.bits_stored,
        "pixel_representation": int(layout.signed),
        "photometric_interpretation": layout.photometric,
        "number_of_frames": 1,
        "planar_configuration": 0,
    }


def _encode_frame(frame: np.ndarray, syntax: UID, layout: PixelLayout, verify: bool) -> bytes:
    options = _encoder_options(layout)
    try:
        encoded = get_encoder(syntax).encode(frame, **options)
    except Exception as error:  # profile not accepted, plugin missing or failing
        raise _Unsuitable(str(error)) from error
    if verify:
        try:
            check, _ = get_decoder(syntax).as_array(encapsulate([encoded]), raw=True, **options)
        except Exception as error:
            raise _Unsuitable(f"round trip failed: {error}") from error
        if check.shape != frame.shape or not np.array_equal(check, frame):
            raise _Unsuitable("round trip is not exact")
    return encoded


def _native_bytes(frame: np.ndarray, layout: PixelLayout) -> bytes:
    kind = "i" if layout.signed else "u"
    return frame.astype(np.dtype(f"<{kind}{layout.itemsize}"), copy=False).tobytes()


def _attempt(
    dataset: Dataset,
    syntax: UID,
    candidate: UID,
    layout: PixelLayout,
    regions: Sequence[Region],
    fill_for: FillFor,
    verify: bool,
) -> Reencoded:
    chunks: list[bytes] = []
    written = layout
    fill: Sequence[int] = ()
    count = 0
    for index, (decoded, meta) in enumerate(_frames(dataset, syntax)):
        if index == 0:
            written = _decoded_layout(layout, meta)
            fill = fill_for(written)
            written = _stored_layout(written, candidate)
        frame = decoded if decoded.flags.writeable else decoded.copy()
        if frame.shape[:2] != (layout.rows, layout.columns):
            raise fail(f"decoded frame {index} has shape {frame.shape}, not the header's size")
        blank_frame(frame, regions, fill)
        if candidate == ExplicitVRLittleEndian:
            chunks.append(_native_bytes(frame, written))
        else:
            chunks.append(_encode_frame(frame, candidate, written, verify))
        count += 1
    if count != layout.frames:
        raise fail(f"decoded {count} frame(s), but Number of Frames is {layout.frames}")
    if candidate == ExplicitVRLittleEndian:
        data = b"".join(chunks)
        if len(data) % 2:
            data += b"\x00"
        return Reencoded(candidate, data, written)
    if sum(len(chunk) + 8 for chunk in chunks) < _MAX_BASIC_OFFSET:
        return Reencoded(candidate, encapsulate(chunks), written)
    data, offsets, lengths = encapsulate_extended(chunks)
    return Reencoded(candidate, data, written, (offsets, lengths))


def transcode(
    dataset: Dataset,
    syntax: UID,
    layout: PixelLayout,
    regions: Sequence[Region],
    fill_for: FillFor,
    *,
    preference: Sequence[UID] = DEFAULT_OUTPUT_SYNTAXES,
    verify: bool = True,
) -> Reencoded:
    """Decode ``dataset``'s encapsulated pixel data, blank ``regions``, re-encode losslessly."""
    check_complete(dataset, syntax, layout.frames)
    reasons: list[str] = []
    for candidate in output_candidates(syntax, preference):
        try:
            return _attempt(dataset, syntax, candidate, layout, regions, fill_for, verify)
        except _Unsuitable as error:
            reasons.append(f"{candidate.name}: {error}")
    raise fail("no output transfer syntax accepted the cleaned pixels: " + " | ".join(reasons))
