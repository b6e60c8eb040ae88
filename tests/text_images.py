"""Images with text drawn into them (PIL, DejaVu Sans or Pillow's own scalable font), in every
photometric interpretation, bit depth and encoding the text detection tests cover.

Each factory returns the dataset and a boolean mask of the pixels the text was drawn on, so
that a test can check the text was covered, and that nothing else changed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pixel_files import SECONDARY_CAPTURE, US_IMAGE, US_MULTIFRAME, make_dataset
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels.processing import convert_color_space
from pydicom.uid import UID, ExplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
ROWS, COLUMNS = 160, 256

#: What the images say: a name, a birth date and an ID (identifying), machine text (not).
BANNER = "DOE^JOHN  1961-04-12"
RECORD = "ID 20240517"
MACHINE = "2.5MHz TIS0.5"


def font(size: int = 15) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if DEJAVU.exists():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)


def text_mask(
    lines: list[tuple[int, int, str]], rows: int = ROWS, columns: int = COLUMNS
) -> np.ndarray:
    """True where ``lines`` ((x, y, text) each) put ink."""
    image = Image.new("L", (columns, rows), 0)
    draw = ImageDraw.Draw(image)
    for x, y, text in lines:
        draw.text((x, y), text, fill=255, font=font())
    return np.asarray(image) > 0


LINES = [(6, 6, BANNER), (6, 26, RECORD), (140, 138, MACHINE)]


def background(rows: int = ROWS, columns: int = COLUMNS, seed: int = 0) -> np.ndarray:
    """A dim, smooth picture with a disc in it (0..1 floats): something that is not text."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:columns]
    picture = 0.15 + 0.1 * xx / columns + 0.02 * rng.random((rows, columns))
    disc = (yy - rows * 0.6) ** 2 + (xx - columns * 0.5) ** 2 < (rows * 0.25) ** 2
    return np.where(disc, 0.4, picture)


@dataclass
class TextImage:
    dataset: Dataset
    mask: np.ndarray  # (rows, columns) or (frames, rows, columns): where the text is


def _grey(bits: int, inverted: bool, mask: np.ndarray, seed: int = 0) -> np.ndarray:
    top = (1 << bits) - 1
    values = background(seed=seed) * top
    values = np.where(mask, top * 0.95, values)
    if inverted:  # MONOCHROME1: low values look bright
        values = top - values
    return values.round().astype(np.int64)


def monochrome(
    bits: int, inverted: bool = False, syntax: UID = ExplicitVRLittleEndian
) -> TextImage:
    mask = text_mask(LINES)
    pixels = _grey(bits, inverted, mask)[None]
    ds = make_dataset(
        pixels,
        photometric="MONOCHROME1" if inverted else "MONOCHROME2",
        bits_allocated=8 if bits <= 8 else 16,
        bits_stored=bits,
        syntax=syntax,
        sop_class=SECONDARY_CAPTURE,
        modality="OT",
        number=100 + bits + int(inverted),
        BurnedInAnnotation="YES",
    )
    return TextImage(ds, mask)


def _rgb(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    picture = background(seed=seed)
    rgb = np.stack([picture * 255, picture * 200, picture * 120], axis=-1)
    rgb[mask] = (250, 250, 230)
    return rgb.round().astype(np.uint8)


def rgb(syntax: UID = ExplicitVRLittleEndian) -> TextImage:
    mask = text_mask(LINES)
    ds = make_dataset(
        _rgb(mask)[None].astype(np.int64),
        photometric="RGB",
        bits_allocated=8,
        bits_stored=8,
        syntax=syntax,
        sop_class=US_IMAGE,
        modality="US",
        number=120,
    )
    return TextImage(ds, mask)


def ybr_full_422() -> TextImage:
    """Native YBR_FULL_422: Y1 Y2 Cb Cr for each pair of pixels."""
    mask = text_mask(LINES)
    ybr = convert_color_space(_rgb(mask), "RGB", "YBR_FULL").astype(np.uint16)
    pairs = ybr.reshape(ROWS, COLUMNS // 2, 2, 3)
    stored = np.empty((ROWS, COLUMNS // 2, 4), dtype=np.uint8)
    stored[..., 0] = pairs[:, :, 0, 0]
    stored[..., 1] = pairs[:, :, 1, 0]
    stored[..., 2] = (pairs[:, :, :, 1].sum(axis=2) // 2).astype(np.uint8)
    stored[..., 3] = (pairs[:, :, :, 2].sum(axis=2) // 2).astype(np.uint8)
    ds = make_dataset(
        np.zeros((1, ROWS, COLUMNS, 3), dtype=np.int64),
        photometric="YBR_FULL_422",
        bits_allocated=8,
        bits_stored=8,
        sop_class=US_IMAGE,
        modality="US",
        number=121,
    )
    ds.PixelData = stored.tobytes()
    return TextImage(ds, mask)


def palette() -> TextImage:
    """PALETTE COLOR, 8-bit indices; index 255 is near-white, 0 black."""
    mask = text_mask(LINES)
    indices = (background() * 200).round().astype(np.int64)
    indices[mask] = 255
    ds = make_dataset(
        indices[None],
        photometric="PALETTE COLOR",
        bits_allocated=8,
        bits_stored=8,
        sop_class=US_IMAGE,
        modality="US",
        number=122,
    )
    ramp = np.arange(256, dtype=np.uint16)
    for colour, scale in (("Red", 257), ("Green", 250), ("Blue", 240)):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        data = (ramp * scale).astype("<u2").tobytes()
        setattr(ds, f"{colour}PaletteColorLookupTableData", data)
    return TextImage(ds, mask)


def cine(frames: int = 4) -> TextImage:
    """An RGB ultrasound loop: a static banner, a disc that moves, a frame counter in it."""
    static = text_mask(LINES)
    pixels = []
    masks = []
    for index in range(frames):
        counter = [(96, 70 + 6 * index, f"T{index + 1}:0{index}")]
        moving = text_mask(counter)
        mask = static | moving
        picture = background()
        yy, xx = np.mgrid[0:ROWS, 0:COLUMNS]
        blob = (yy - 90) ** 2 + (xx - 60 - 10 * index) ** 2 < 20**2
        rgb = np.stack([picture * 255, picture * 200, picture * 120], axis=-1)
        rgb[blob] = (90, 60, 40)
        rgb[mask] = (250, 250, 230)
        pixels.append(rgb.round().astype(np.int64))
        masks.append(mask)
    ds = make_dataset(
        np.stack(pixels),
        photometric="RGB",
        bits_allocated=8,
        bits_stored=8,
        sop_class=US_MULTIFRAME,
        modality="US",
        number=130,
        BurnedInAnnotation="YES",
    )
    return TextImage(ds, np.stack(masks))


def jpeg_baseline(colour: bool = True) -> TextImage:
    """JPEG baseline (lossy, quality 95), encoded by Pillow: YBR_FULL_422 or MONOCHROME2."""
    mask = text_mask(LINES)
    array = _rgb(mask) if colour else _grey(8, False, mask).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=95)
    ds = make_dataset(
        np.zeros((1, ROWS, COLUMNS, 3) if colour else (1, ROWS, COLUMNS), dtype=np.int64),
        photometric="YBR_FULL_422" if colour else "MONOCHROME2",
        bits_allocated=8,
        bits_stored=8,
        sop_class=US_IMAGE,
        modality="US",
        number=140 + int(colour),
    )
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.LossyImageCompression = "01"
    return TextImage(ds, mask)


def rle() -> TextImage:
    return rgb(RLELossless)


def no_text() -> Dataset:
    """An ultrasound image without any text (Burned In Annotation absent)."""
    picture = _rgb(np.zeros((ROWS, COLUMNS), dtype=bool))
    return make_dataset(
        picture[None].astype(np.int64),
        photometric="RGB",
        bits_allocated=8,
        bits_stored=8,
        sop_class=US_IMAGE,
        modality="US",
        number=150,
    )


def named(image: TextImage, name: str = "Doe^John", patient_id: str = "20240517") -> TextImage:
    """The image with the patient the banner shows, for the ``phi`` mode."""
    image.dataset.PatientName = name
    image.dataset.PatientID = patient_id
    image.dataset.PatientBirthDate = "19610412"
    return image
