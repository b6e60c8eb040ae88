"""Bouncers: read-only checks that refuse datasets idiscore cannot de-identify safely.

Step 1 of :meth:`idiscore.core.Core.deidentify`. A bouncer's :meth:`Bouncer.inspect` raises
:class:`~idiscore.errors.DatasetRejectedError` with a specific reason, or returns None.
Bouncers never modify the dataset (header values are read without converting elements in
place), hold plain data only (they pickle, so a Core can cross process boundaries) and
print readably.

=============================  ===============================================================
Bouncer                        Rejects
=============================  ===============================================================
RejectNonStandardDicom         SOP Class UID missing, malformed, unknown to pydicom's UID
                               dictionary, or not a Storage SOP class (the standard's
                               de-identification rules only cover standard objects)
RejectKOGSPS                   Key Object Selection Documents and Grayscale Softcopy
                               Presentation States; by default every other presentation state
                               too (their text annotations and graphic labels are free text)
RejectEncapsulatedDocuments    Encapsulated PDF, CDA, STL, OBJ and MTL: free-form documents
                               or models no tag rule can clean (alias
                               RejectEncapsulatedImageStorage)
RejectAudio                    Basic Voice Audio and General Audio Waveforms: recorded
                               speech (a dictation names the patient) no tag rule can clean
RejectBurnedInAnnotation       Burned In Annotation YES, or absent where the SOP class or
                               modality usually carries burned-in text - unless the pixel
                               processor will clean this dataset
CriterionBouncer               whatever its :class:`~idiscore.pixels.criterion.Criterion`
                               matches, with the reason given
=============================  ===============================================================

:func:`default_bouncers` lists the ones the default core uses: all of the above but
CriterionBouncer, in the order of the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from pydicom._uid_dict import UID_dictionary
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID

from idiscore.errors import ConfigurationError, DatasetRejectedError
from idiscore.exceptions import BouncerError
from idiscore.pixels._dataset import read_value
from idiscore.pixels.function_criterion import as_criterion
from idiscore.pixels.text import INSTALL_HINT, engine_available
from idiscore.steps import Bouncer
from idiscore.steps import as_if_pixels_cleaned as _as_if_cleaned

_SOP_CLASS_UID = 0x00080016
_MODALITY = 0x00080060
_BURNED_IN_ANNOTATION = 0x00280301

KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
GRAYSCALE_SOFTCOPY_PRESENTATION_STATE = "1.2.840.10008.5.1.4.1.1.11.1"

#: Encapsulated PDF, CDA, STL, OBJ and MTL Storage.
ENCAPSULATED_DOCUMENT_SOP_CLASSES: tuple[str, ...] = (
    "1.2.840.10008.5.1.4.1.1.104.1",
    "1.2.840.10008.5.1.4.1.1.104.2",
    "1.2.840.10008.5.1.4.1.1.104.3",
    "1.2.840.10008.5.1.4.1.1.104.4",
    "1.2.840.10008.5.1.4.1.1.104.5",
)

#: Basic Voice Audio and General Audio Waveform Storage: recorded sound.
AUDIO_SOP_CLASSES: tuple[str, ...] = (
    "1.2.840.10008.5.1.4.1.1.9.4.1",
    "1.2.840.10008.5.1.4.1.1.9.4.2",
)

#: SOP classes whose images typically have text burned into the pixels: secondary capture
#: (screenshots), ultrasound (patient banner), visible-light photography, endoscopy,
#: microscopy (slide labels), ophthalmic photography.
BURNED_IN_TEXT_SOP_CLASSES: tuple[str, ...] = (
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
    "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color Secondary Capture
    "1.2.840.10008.5.1.4.1.1.6",  # Ultrasound Image (retired)
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
    "1.2.840.10008.5.1.4.1.1.3",  # Ultrasound Multi-frame Image (retired)
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
    "1.2.840.10008.5.1.4.1.1.77.1.1",  # VL Endoscopic Image
    "1.2.840.10008.5.1.4.1.1.77.1.1.1",  # Video Endoscopic Image
    "1.2.840.10008.5.1.4.1.1.77.1.2",  # VL Microscopic Image
    "1.2.840.10008.5.1.4.1.1.77.1.2.1",  # Video Microscopic Image
    "1.2.840.10008.5.1.4.1.1.77.1.3",  # VL Slide-Coordinates Microscopic Image
    "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic Image
    "1.2.840.10008.5.1.4.1.1.77.1.4.1",  # Video Photographic Image
    "1.2.840.10008.5.1.4.1.1.77.1.5.1",  # Ophthalmic Photography 8 Bit Image
    "1.2.840.10008.5.1.4.1.1.77.1.5.2",  # Ophthalmic Photography 16 Bit Image
    "1.2.840.10008.5.1.4.1.1.77.1.6",  # VL Whole Slide Microscopy Image (slide labels)
    "1.2.840.10008.5.1.4.1.1.77.1.7",  # Dermoscopic Photography Image
    *ENCAPSULATED_DOCUMENT_SOP_CLASSES,  # documents are text through and through
)

#: Modalities whose images typically have text burned into the pixels. OT and SC are the
#: values secondary captures carry; XC, ES, GM, SM, OP, DOC are photographs, endoscopy,
#: microscopy, ophthalmic photography and scanned documents.
BURNED_IN_TEXT_MODALITIES: tuple[str, ...] = (
    "US",
    "IVUS",
    "OT",
    "SC",
    "XC",
    "ES",
    "GM",
    "SM",
    "OP",
    "DOC",
)


def _text(dataset: Dataset, tag: int) -> str:
    value = read_value(dataset, tag)
    if value is None:
        return ""
    if not isinstance(value, str):  # a multi-valued element where one value is expected
        value = "\\".join(str(v) for v in value)
    return value.strip()


_UID_PATTERN = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


def _valid_uid(uid: str) -> bool:
    """PS3.5 9.1: digits and dots, no leading zeros, at most 64 characters."""
    return len(uid) <= 64 and _UID_PATTERN.fullmatch(uid) is not None


def _sop_class(dataset: Dataset) -> str:
    return _text(dataset, _SOP_CLASS_UID)


def _describe(uid: str) -> str:
    name = UID(uid).name if uid in UID_dictionary else ""
    return f"{uid} ({name})" if name and name != uid else uid


def is_standard_storage_sop_class(uid: str, *, allow_retired: bool = True) -> bool:
    """True when ``uid`` is a Storage SOP class in pydicom's UID dictionary."""
    entry = UID_dictionary.get(uid)
    if entry is None:
        return False
    name, kind, _info, retired = entry[0], entry[1], entry[2], entry[3]
    if kind != "SOP Class" or " Storage" not in f" {name}":
        return False
    if name.startswith("Storage Commitment"):
        return False
    return allow_retired or retired != "Retired"


class RejectNonStandardDicom(Bouncer):
    """Rejects datasets whose SOP Class UID is missing or not a standard Storage SOP class.

    The standard SOP classes are those of pydicom's UID dictionary (so a class newer than
    the installed pydicom is rejected until pydicom knows it, or until it is listed in
    ``extra_sop_classes``). Retired storage classes are accepted unless
    ``allow_retired=False``.
    """

    def __init__(
        self, *, allow_retired: bool = True, extra_sop_classes: tuple[str, ...] = ()
    ) -> None:
        self.allow_retired = bool(allow_retired)
        self.extra_sop_classes = tuple(str(uid) for uid in extra_sop_classes)
        for uid in self.extra_sop_classes:
            if not _valid_uid(uid):
                raise ConfigurationError(f"{uid!r} is not a valid UID")

    def _parameters(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if not self.allow_retired:
            params["allow_retired"] = False
        if self.extra_sop_classes:
            params["extra_sop_classes"] = self.extra_sop_classes
        return params

    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        uid = _sop_class(dataset)
        if not uid:
            raise self.reject("SOP Class UID (0008,0016) is missing or empty")
        if uid in self.extra_sop_classes:
            return
        if not _valid_uid(uid):
            raise self.reject(f"SOP Class UID {uid!r} is not a valid UID")
        if uid not in UID_dictionary:
            raise self.reject(f"SOP class {uid} is not a standard DICOM SOP class")
        if not is_standard_storage_sop_class(uid, allow_retired=True):
            raise self.reject(f"SOP class {_describe(uid)} is not a storage SOP class")
        if not self.allow_retired and not is_standard_storage_sop_class(uid, allow_retired=False):
            raise self.reject(f"SOP class {_describe(uid)} is retired")


@cache
def presentation_state_sop_classes() -> tuple[str, ...]:
    """Every presentation state storage SOP class in pydicom's UID dictionary."""
    return tuple(
        uid
        for uid, entry in UID_dictionary.items()
        if entry[1] == "SOP Class" and "Presentation State Storage" in entry[0]
    )


class RejectKOGSPS(Bouncer):
    """Rejects Key Object Selection Documents and softcopy presentation states.

    Both carry free text (key object descriptions, text annotations, graphic labels) that
    the attribute rules do not clean. With ``all_presentation_states=True`` (the default)
    every presentation state SOP class is rejected (colour, pseudo-colour, blending,
    XA/XRF, volumetric, ...), since they share those free-text annotation modules;
    ``False`` limits it to the Grayscale Softcopy Presentation State.
    """

    def __init__(self, *, all_presentation_states: bool = True) -> None:
        self.all_presentation_states = bool(all_presentation_states)

    def _parameters(self) -> dict[str, Any]:
        return {} if self.all_presentation_states else {"all_presentation_states": False}

    @property
    def sop_classes(self) -> tuple[str, ...]:
        states = (
            presentation_state_sop_classes()
            if self.all_presentation_states
            else (GRAYSCALE_SOFTCOPY_PRESENTATION_STATE,)
        )
        return (KEY_OBJECT_SELECTION, *states)

    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        uid = _sop_class(dataset)
        if uid == KEY_OBJECT_SELECTION:
            raise self.reject(
                f"SOP class {_describe(uid)} carries free-text key object descriptions"
            )
        if uid in self.sop_classes:
            raise self.reject(
                f"SOP class {_describe(uid)} is a presentation state, whose text "
                "annotations and graphic labels are free text"
            )


class RejectEncapsulatedDocuments(Bouncer):
    """Rejects encapsulated PDF, CDA, STL, OBJ and MTL documents (free-form content)."""

    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        uid = _sop_class(dataset)
        if uid in ENCAPSULATED_DOCUMENT_SOP_CLASSES:
            raise self.reject(f"SOP class {_describe(uid)} carries free-form documents")


#: The name idiscore users know.
RejectEncapsulatedImageStorage = RejectEncapsulatedDocuments


class RejectAudio(Bouncer):
    """Rejects recorded sound (Basic Voice Audio, General Audio Waveform): a dictation
    says the patient's name and birth date aloud, and no tag rule can clean a waveform."""

    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        uid = _sop_class(dataset)
        if uid in AUDIO_SOP_CLASSES:
            raise self.reject(f"SOP class {_describe(uid)} carries recorded sound")


class RejectBurnedInAnnotation(Bouncer):
    """Rejects datasets whose pixels (probably) show identifying text, unless cleaned.

    * Burned In Annotation (0028,0301) ``YES``: rejected.
    * absent, empty or not YES/NO: rejected when the SOP class is in
      :data:`BURNED_IN_TEXT_SOP_CLASSES` or the Modality in
      :data:`BURNED_IN_TEXT_MODALITIES`.
    * ``NO``: trusted, unless ``strict=True``, which treats it like an absent value.

    Nothing is rejected when ``pixels_will_be_cleaned`` is True: the pixel processor has a
    location for this dataset, or detects and blanks its text, and cleaning failures are
    errors, never silent. :meth:`flags` tells which datasets these rules concern.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = bool(strict)

    def _parameters(self) -> dict[str, Any]:
        return {"strict": True} if self.strict else {}

    def flags(self, dataset: Dataset) -> bool:
        """True when ``dataset``'s pixels may show identifying text (the rules above).

        The pixel processor's text detection reads exactly the datasets this flags.
        """
        return self._finding(dataset) is not None

    def _finding(self, dataset: Dataset) -> str | None:
        burned_in = _text(dataset, _BURNED_IN_ANNOTATION).upper()
        if burned_in == "YES":
            return "Burned In Annotation is YES"
        if burned_in == "NO" and not self.strict:
            return None
        uid = _sop_class(dataset)
        modality = _text(dataset, _MODALITY).upper()
        state = "NO (not trusted in strict mode)" if burned_in == "NO" else "not YES or NO"
        if not burned_in:
            state = "absent"
        if uid in BURNED_IN_TEXT_SOP_CLASSES:
            return (
                f"Burned In Annotation is {state}, SOP class {_describe(uid)} often has "
                "text burned into its pixels"
            )
        if modality in BURNED_IN_TEXT_MODALITIES:
            return (
                f"Burned In Annotation is {state}, modality {modality} often has text "
                "burned into its pixels"
            )
        return None

    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        if pixels_will_be_cleaned:
            return
        finding = self._finding(dataset)
        if finding is not None:
            raise self.reject(f"{finding}, no pixel location matches this dataset{_ocr_hint()}")


def _ocr_hint() -> str:
    """Why text detection did not clean the dataset: not installed, or not switched on."""
    if engine_available("rapidocr"):
        return " and text detection is off (--ocr)"
    return f" and no text detector is installed ({INSTALL_HINT['rapidocr']})"


class CriterionBouncer(Bouncer):
    """Rejects every dataset its criterion matches, giving ``reason``.

    ``criterion`` is a :class:`~idiscore.pixels.criterion.Criterion`, a function of a
    dataset or (idiscore 1.x, extra ``compat``) an expression such as
    ``"Modality.equals('US')"``; ``justification`` is the 1.x name of ``reason``. Without a
    reason the criterion is named.
    """

    def __init__(
        self, criterion: Any, reason: str | None = None, *, justification: str | None = None
    ) -> None:
        # idiscore 1.x: a dicomcriterion expression or a function, and ``justification``
        if reason is None:
            reason = justification
        if isinstance(criterion, dict):
            raise ConfigurationError("CriterionBouncer needs a Criterion, not a mapping")
        checked = as_criterion(criterion)
        if checked is None:
            raise ConfigurationError("CriterionBouncer needs a Criterion")
        if reason is None or reason == "":
            reason = f"the dataset matches {checked!r}"
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigurationError("CriterionBouncer needs a non-empty reason")
        self.criterion = checked
        self.reason = reason.strip()

    def _parameters(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "reason": self.reason}

    def inspect(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        if self.criterion.matches(dataset):
            raise self.reject(self.reason)


#: The idiscore 1.x name of :class:`~idiscore.errors.DatasetRejectedError`:
#: ``except DatasetRejected`` catches every rejection.
DatasetRejected = DatasetRejectedError


def determine_bouncer_results(bouncers: Iterable[Bouncer], dataset: Dataset) -> list[Bouncer]:
    """Which bouncers refuse ``dataset`` only because of its pixels (idiscore 1.x).

    Every bouncer first inspects the dataset as it would be after pixel cleaning (Burned In
    Annotation NO, ``pixels_will_be_cleaned=True``): a rejection there is final and is
    raised. The bouncers that then refuse the dataset as it is are returned: cleaning the
    pixels may satisfy them. ``dataset`` is not modified.

    Raises:
        DatasetRejectedError: (``DatasetRejected``) a bouncer refuses the dataset anyway.
    """
    chosen = list(bouncers)
    cleaned = _as_if_cleaned(dataset)
    for bouncer in chosen:
        bouncer.inspect(cleaned, pixels_will_be_cleaned=True)
    maybe: list[Bouncer] = []
    for bouncer in chosen:
        try:
            bouncer.inspect(dataset)
        except DatasetRejectedError:
            maybe.append(bouncer)
    return maybe


class PatchedDataset:
    """Give some elements of a dataset other values for the length of a ``with`` block.

    ::

        with PatchedDataset(dataset, {"Modality": "CT"}) as patched:
            ...  # patched is dataset, with Modality CT
        # dataset is as it was: the original element objects are back, added ones gone

    Keys are DICOM keywords (an unknown one raises ConfigurationError). This modifies
    ``dataset`` while the block runs (idiscore itself never does this to an input).
    """

    def __init__(self, dataset: Dataset, patch: Mapping[str, Any]) -> None:
        self.dataset = dataset
        self.patch = dict(patch)
        self._tags: dict[str, BaseTag] = {}
        for keyword in self.patch:
            tag = tag_for_keyword(keyword) if isinstance(keyword, str) else None
            if tag is None:
                raise ConfigurationError(f"PatchedDataset: unknown DICOM keyword {keyword!r}")
            self._tags[keyword] = BaseTag(tag)
        self._saved: dict[BaseTag, Any] = {}

    def __enter__(self) -> Dataset:
        for keyword, value in self.patch.items():
            tag = self._tags[keyword]
            self._saved[tag] = self.dataset.get_item(tag, keep_deferred=True)
            # a new element: the original object is put back untouched afterwards
            self.dataset[tag] = DataElement(tag, dictionary_VR(tag), value)
        return self.dataset

    def __exit__(self, *exc_info: object) -> None:
        for tag, original in self._saved.items():
            if original is None:
                if tag in self.dataset:
                    del self.dataset[tag]
            else:
                self.dataset[tag] = original
        self._saved = {}


def default_bouncers() -> list[Bouncer]:
    """The bouncers of the default core, in the order they run.

    Non-standard objects first (nothing else can be judged without a known SOP class),
    then key objects and presentation states, encapsulated documents, recorded sound,
    and burned-in annotation (lenient: an explicit NO is trusted).
    """
    return [
        RejectNonStandardDicom(),
        RejectKOGSPS(),
        RejectEncapsulatedDocuments(),
        RejectAudio(),
        RejectBurnedInAnnotation(),
    ]


__all__ = [
    "AUDIO_SOP_CLASSES",
    "BURNED_IN_TEXT_MODALITIES",
    "BURNED_IN_TEXT_SOP_CLASSES",
    "ENCAPSULATED_DOCUMENT_SOP_CLASSES",
    "Bouncer",
    "BouncerError",
    "CriterionBouncer",
    "DatasetRejected",
    "PatchedDataset",
    "RejectAudio",
    "RejectBurnedInAnnotation",
    "RejectEncapsulatedDocuments",
    "RejectEncapsulatedImageStorage",
    "RejectKOGSPS",
    "RejectNonStandardDicom",
    "default_bouncers",
    "determine_bouncer_results",
    "is_standard_storage_sop_class",
    "presentation_state_sop_classes",
]
