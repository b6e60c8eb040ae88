"""PixelProcessor: blank the rectangles of every matching location, on every frame.

``clean`` works on a new dataset (a top-level shallow copy of the input; see
:mod:`idiscore.pixels._dataset`), so the caller's dataset is never modified, also not when
cleaning fails. What happens to the pixel data depends on the transfer syntax:

=========================================  ====================================================
Input transfer syntax                      Output
=========================================  ====================================================
Implicit / Explicit VR Little Endian,      same transfer syntax; the rectangles are overwritten
Deflated Explicit VR Little Endian,        in a copy of the pixel bytes, every other byte stays
Explicit VR Big Endian                     identical
RLE Lossless, JPEG-LS Lossless,            decoded, blanked and re-encoded in the same syntax
JPEG 2000 Lossless
any other syntax pydicom can decode        decoded, blanked and re-encoded in the first of
(JPEG baseline/extended/lossless,          ``output_transfer_syntaxes`` (default JPEG-LS
JPEG-LS near-lossless, JPEG 2000,          Lossless, JPEG 2000 Lossless, RLE Lossless) that
HTJ2K, ...)                                accepts the data, else Explicit VR Little Endian
=========================================  ====================================================

After re-encoding, Transfer Syntax UID, the encapsulation (basic or extended offset
table), Photometric Interpretation, Bits Stored/High Bit, Pixel Representation and Planar
Configuration describe the written pixels. Lossy Image Compression is never reset; input
in JPEG baseline/extended without it gets ``01`` (and Lossy Image Compression Method
``ISO_10918_1`` if absent), since those syntaxes are always lossy.

Failures (no pixel data, no decoder, corrupt or truncated data, unsupported layouts) raise
:class:`~idiscore.errors.PixelDataProcessingError`; pixels are never passed through.

With ``text_detection`` (:class:`~idiscore.pixels.ocr.TextDetection`), the processor also
cleans every dataset the burned-in annotation policy flags
(:meth:`idiscore.bouncers.RejectBurnedInAnnotation.flags`) when the engine is installed: the
text found on any frame is blanked like a location's rectangles, together with those of the
matching locations. When neither finds anything, the pixel data is left byte for byte as it
was. The dataset returned carries the :class:`~idiscore.pixels.ocr.TextFindings` (boxes and
frames, never the text) as its ``idiscore_pixel_findings`` attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
)

from idiscore.errors import ConfigurationError, PixelDataProcessingError
from idiscore.operators.cleaning import identifying_values
from idiscore.pixels._dataset import drop, put, read_element, shallow_copy
from idiscore.pixels.blanking import Region, blank_native
from idiscore.pixels.codec import DEFAULT_OUTPUT_SYNTAXES, ENCODABLE_LOSSLESS, Reencoded, transcode
from idiscore.pixels.fill import fill_values
from idiscore.pixels.layout import (
    DOUBLE_FLOAT_PIXEL_DATA,
    FLOAT_PIXEL_DATA,
    PIXEL_DATA,
    PixelLayout,
    fail,
)
from idiscore.pixels.locations import PIILocation, PIILocationList
from idiscore.pixels.ocr import TextDetection, TextFindings, find_text, merge_regions
from idiscore.steps import PIXEL_FINDINGS

_NATIVE = {
    ImplicitVRLittleEndian: True,
    ExplicitVRLittleEndian: True,
    DeflatedExplicitVRLittleEndian: True,
    ExplicitVRBigEndian: False,
}
_ALWAYS_LOSSY = {JPEGBaseline8Bit: "ISO_10918_1", JPEGExtended12Bit: "ISO_10918_1"}
_ANY_PIXEL_DATA = (PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA)
_EXTENDED_OFFSET_TABLE = 0x7FE00001
_EXTENDED_OFFSET_TABLE_LENGTHS = 0x7FE00002


def _transfer_syntax(dataset: Dataset) -> UID | None:
    file_meta = getattr(dataset, "file_meta", None)
    value = None if file_meta is None else file_meta.get("TransferSyntaxUID", None)
    return UID(str(value)) if value else None


def _decoding_syntax(dataset: Dataset) -> UID:
    """The transfer syntax to decode with; without file meta, the encoding it was read in."""
    syntax = _transfer_syntax(dataset)
    if syntax is not None:
        return syntax
    implicit, little = dataset.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little is not False else ExplicitVRBigEndian


class BurnedInPolicy(Protocol):
    """Which datasets may show burned-in text (``RejectBurnedInAnnotation.flags``)."""

    def flags(self, dataset: Dataset) -> bool: ...


class PixelProcessor:
    """Blanks the rectangles of the locations matching a dataset (see the module docstring).

    ``output_transfer_syntaxes`` is the order in which lossless syntaxes are tried for
    re-encoding compressed input that cannot stay in its own syntax; any of JPEG-LS
    Lossless, JPEG 2000 Lossless, RLE Lossless and Explicit VR Little Endian (which is
    always the last resort). ``verify_encoding`` decodes every re-encoded frame again and
    checks it is exact.
    """

    def __init__(
        self,
        locations: PIILocationList | Sequence[PIILocation] = (),
        *,
        output_transfer_syntaxes: Sequence[str] = DEFAULT_OUTPUT_SYNTAXES,
        verify_encoding: bool = True,
        text_detection: TextDetection | None = None,
        burned_in_policy: BurnedInPolicy | None = None,
    ) -> None:
        self.locations = (
            locations if isinstance(locations, PIILocationList) else PIILocationList(locations)
        )
        syntaxes = tuple(UID(str(uid)) for uid in output_transfer_syntaxes)
        allowed = (*ENCODABLE_LOSSLESS, ExplicitVRLittleEndian)
        for uid in syntaxes:
            if uid not in allowed:
                raise ConfigurationError(
                    f"cannot write cleaned pixels as {uid} ({uid.name}): use one of "
                    + ", ".join(f"{a} ({a.name})" for a in allowed)
                )
        self.output_transfer_syntaxes = syntaxes
        self.verify_encoding = bool(verify_encoding)
        if text_detection is not None and not isinstance(text_detection, TextDetection):
            raise ConfigurationError("text_detection must be a TextDetection or None")
        self.text_detection = text_detection
        self._policy = burned_in_policy

    def __repr__(self) -> str:
        text = "" if self.text_detection is None else f", {self.text_detection!r}"
        return f"PixelProcessor({len(self.locations)} location(s){text})"

    @property
    def burned_in_policy(self) -> BurnedInPolicy:
        """Decides which datasets text detection reads (default: the standard bouncer's)."""
        if self._policy is None:
            from idiscore.bouncers import RejectBurnedInAnnotation

            self._policy = RejectBurnedInAnnotation()
        return self._policy

    def detects_text(self, dataset: Dataset) -> bool:
        """True when text detection is on, installed, and the policy flags ``dataset``."""
        detection = self.text_detection
        if detection is None or not detection.available:
            return False
        if not any(tag in dataset for tag in _ANY_PIXEL_DATA):
            return False
        return bool(self.burned_in_policy.flags(dataset))

    def matches(self, dataset: Dataset) -> bool:
        """True when a location applies to ``dataset`` (header only, never decodes pixels).

        A dataset without any pixel data element (a structured report, say) never matches:
        there is nothing to clean, so the core does not call :meth:`clean` for it.
        """
        if not any(tag in dataset for tag in _ANY_PIXEL_DATA):
            return False
        if any(location.matches(dataset) for location in self.locations):
            return True
        return self.detects_text(dataset)

    def clean(self, dataset: Dataset) -> Dataset:
        """A new dataset with every matching rectangle and every text box blanked.

        Returns ``dataset`` itself when no location matches and no text is looked for.
        Raises :class:`~idiscore.errors.PixelDataProcessingError` when cleaning is impossible.
        """
        matching = self.locations.get_matching(dataset)
        text = self.detects_text(dataset)
        if not matching and not text:
            return dataset
        try:
            return self._clean(dataset, matching, text)
        except PixelDataProcessingError:
            raise
        except Exception as error:
            raise PixelDataProcessingError(
                f"pixel data could not be cleaned: {type(error).__name__}: {error}",
                tag=PIXEL_DATA,
            ) from error

    def find_text(self, dataset: Dataset) -> TextFindings:
        """The text boxes on ``dataset``'s frames (text detection must be configured)."""
        if self.text_detection is None:
            raise ConfigurationError("this PixelProcessor has no text detection")
        new = shallow_copy(dataset)
        layout = PixelLayout.from_dataset(new)
        return self._find_text(new, layout)

    def _find_text(self, new: Dataset, layout: PixelLayout) -> TextFindings:
        assert self.text_detection is not None
        values: Any = ()
        if self.text_detection.mode == "phi":
            values = identifying_values(new)
        return find_text(new, layout, _decoding_syntax(new), self.text_detection, values)

    def _clean(self, dataset: Dataset, matching: Sequence[PIILocation], text: bool) -> Dataset:
        new = shallow_copy(dataset)
        _decode_misread_elements(new)
        layout = PixelLayout.from_dataset(new)
        regions: list[Region] = []
        for location in matching:
            for area in location.areas:
                region = area.clipped(layout.rows, layout.columns)
                if region is not None and region not in regions:
                    regions.append(region)
        if text:  # decoded on a copy of its own, so that untouched pixels stay as read
            findings = self._find_text(shallow_copy(dataset), layout)
            object.__setattr__(new, PIXEL_FINDINGS, findings)
            regions = merge_regions(regions, findings.regions)
        if not regions:  # nothing of the image is covered: pixel data stays untouched
            _resolve_ambiguous_vr(new, layout)
            return new
        element = new[PIXEL_DATA]
        syntax = _transfer_syntax(new)
        if syntax is None:
            if element.is_undefined_length:
                raise fail("encapsulated pixel data without a Transfer Syntax UID")
            little = new.original_encoding[1] is not False
            self._clean_native(new, element, layout, regions, little)
        elif syntax in _NATIVE:
            if element.is_undefined_length:
                raise fail(f"encapsulated pixel data in a dataset declared {syntax.name}")
            self._clean_native(new, element, layout, regions, _NATIVE[syntax])
        elif syntax.is_transfer_syntax and syntax.is_encapsulated:
            if not element.is_undefined_length:
                raise fail(f"native pixel data in a dataset declared {syntax.name}")
            result = transcode(
                new,
                syntax,
                layout,
                regions,
                lambda written: fill_values(new, written),
                preference=self.output_transfer_syntaxes,
                verify=self.verify_encoding,
            )
            _store(new, syntax, layout, result)
        else:
            raise fail(f"unknown transfer syntax {syntax}")
        return new

    @staticmethod
    def _clean_native(
        new: Dataset,
        element: DataElement,
        layout: PixelLayout,
        regions: Sequence[Region],
        little_endian: bool,
    ) -> None:
        value = element.value
        if not isinstance(value, (bytes, bytearray)):
            raise fail("Pixel Data has no readable value")
        swapped = not little_endian and element.VR == "OW" and layout.itemsize == 1
        blanked = blank_native(
            value,
            layout,
            regions,
            fill_values(new, layout),
            little_endian=little_endian,
            swapped_words=swapped,
        )
        new[PIXEL_DATA] = DataElement(PIXEL_DATA, element.VR, blanked)


def _decode_misread_elements(new: Dataset) -> None:
    """Decode raw elements without a VR in a data set said to be explicit VR.

    pydicom reads a file that declares an explicit VR syntax but holds an implicit VR data
    set (it warns) element by element as implicit, yet records the data set as explicit:
    such raw elements cannot be written as they are, neither by pydicom nor by idiscore.
    Decoded (with the dictionary's VR), they are written like any other element.
    """
    if new.original_encoding[0] is not False:
        return
    for tag, element in list(new._dict.items()):
        if isinstance(element, RawDataElement) and element.VR is None and tag != PIXEL_DATA:
            decoded = read_element(new, tag)
            if decoded is not None:
                new._dict[tag] = decoded


def _resolve_ambiguous_vr(new: Dataset, layout: PixelLayout) -> None:
    """Give untouched Pixel Data read with the dictionary's ``OB or OW`` its real VR.

    An implicit VR data set in a file that declares an explicit syntax keeps that
    ambiguous VR in its raw element, which no writer can write; the value stays as read.
    """
    element = new.get_item(PIXEL_DATA)
    if isinstance(element, RawDataElement) and element.VR in (None, "OB or OW"):
        encapsulated = element.length == 0xFFFFFFFF or layout.itemsize == 1
        new[PIXEL_DATA] = element._replace(VR="OB" if encapsulated else "OW")


def _store(new: Dataset, syntax: UID, layout: PixelLayout, result: Reencoded) -> None:
    """Write re-encoded pixels and make every describing attribute agree with them."""
    written = result.layout
    element = DataElement(PIXEL_DATA, "OB" if written.itemsize == 1 else "OW", result.pixel_data)
    if result.encapsulated:
        element = DataElement(PIXEL_DATA, "OB", result.pixel_data, is_undefined_length=True)
    new[PIXEL_DATA] = element
    drop(new, _EXTENDED_OFFSET_TABLE)
    drop(new, _EXTENDED_OFFSET_TABLE_LENGTHS)
    if result.extended_offsets is not None:
        put(new, _EXTENDED_OFFSET_TABLE, "OV", result.extended_offsets[0])
        put(new, _EXTENDED_OFFSET_TABLE_LENGTHS, "OV", result.extended_offsets[1])
    if written.photometric != layout.photometric:
        put(new, "PhotometricInterpretation", "CS", written.photometric)
    if written.bits_stored != layout.bits_stored:
        put(new, "BitsStored", "US", written.bits_stored)
        put(new, "HighBit", "US", written.bits_stored - 1)
    if written.signed != layout.signed:
        put(new, "PixelRepresentation", "US", int(written.signed))
    if written.samples > 1 and new.get("PlanarConfiguration", None) != 0:
        put(new, "PlanarConfiguration", "US", 0)
    if syntax in _ALWAYS_LOSSY and str(new.get("LossyImageCompression", "") or "") != "01":
        put(new, "LossyImageCompression", "CS", "01")
        if not new.get("LossyImageCompressionMethod", None):
            put(new, "LossyImageCompressionMethod", "CS", _ALWAYS_LOSSY[syntax])
    put(new.file_meta, "TransferSyntaxUID", "UI", result.transfer_syntax)
