"""Core: de-identify one dataset in four steps.

:meth:`Core.deidentify` runs, in order:

1. :meth:`Core.apply_bouncers` -- may reject a dataset that is too hard to de-identify
   (raises :class:`~idiscore.errors.DatasetRejectedError`);
2. :meth:`Core.apply_pixel_processing` -- blanks regions of the image where a location
   rule matches; failure rejects the dataset;
3. :meth:`Core.apply_rules` -- one walk over file meta, dataset and every nested
   sequence item: each element gets the rule for its own tag;
4. :meth:`Core.apply_insertions` -- adds elements such as *Patient Identity Removed*.

The caller's dataset is never modified: the result is a new dataset that shares
immutable values (raw element bytes, pixel data) with the input.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from idiscore.elements import isolated
from idiscore.errors import (
    ConfigurationError,
    DeidentificationError,  # idiscore 1.x: idiscore.core.DeidentificationError
    IDISCoreError,
    InputError,
    StorageError,
    encoding_error,
    idiscore_error,
)
from idiscore.fileio import DEFAULT_DEFER_SIZE, OutputDataset
from idiscore.fileio import read as read_file
from idiscore.fileio import save as save_file
from idiscore.operators.base import Context, _Shared
from idiscore.operators.values import charset_of, read_element
from idiscore.pixels.codestream import blank_dataset_text
from idiscore.pixels.overlays import clear_embedded_overlays
from idiscore.profile import CompiledRules, Profile
from idiscore.steps import (
    PIXEL_FINDINGS,
    Bouncer,
    DeidentificationInfo,
    Insertion,
    PixelProcessorLike,
)
from idiscore.walker import Walker

if TYPE_CHECKING:
    from idiscore.pseudonyms import Pseudonymizer

__all__ = [
    "PIXEL_FINDINGS",
    "Core",
    "DeidentificationError",
    "DeidentificationInfo",
    "Insertion",
    "Profile",
]

_SOP_CLASS_UID = 0x00080016
_SOP_INSTANCE_UID = 0x00080018
_MEDIA_SOP_CLASS_UID = 0x00020002
_MEDIA_SOP_INSTANCE_UID = 0x00020003
_TRANSFER_SYNTAX_UID = 0x00020010
_PYDICOM = f"{os.sep}pydicom{os.sep}"


class Core:
    """De-identifies datasets with a :class:`Profile`.

    Args:
        profile: the rules to apply.
        insertions: elements (or :class:`Insertion` objects) added in step 4.
        bouncers: checks run in step 1; any may reject the dataset.
        pixel_processor: blanks image regions in step 2 (see
            :mod:`idiscore.image_processing`).
        pseudonymizer: the keyed pseudonymizer behind every derived value. Default:
            the key in the ``IDISCORE_KEY`` environment variable, else a random
            per-run key (with a warning: results will not link across runs).
        options: free-form options passed to operators through their context.
        keep_preamble: keep the input's 128-byte file preamble in the output. Off by
            default: the preamble is free for any application's use (PS3.10 §7.1), so
            it may carry identifying bytes, and idiscore writes 128 zero bytes instead.
        keep_codestream_text: leave the comments and application segments inside
            compressed pixel data (JPEG ``COM`` and ``APPn`` such as Exif, JPEG 2000
            ``COM``, JP2 XML and UUID boxes) as they are. Off by default: no attribute
            rule reaches them, and a scanner or photo application may have written a
            name or a date there; idiscore zeroes their content, which changes no
            decoded pixel (see :mod:`idiscore.pixels.codestream`).
    """

    def __init__(
        self,
        profile: Profile,
        insertions: Sequence[DataElement | Insertion] | None = None,
        bouncers: Sequence[Bouncer] | None = None,
        pixel_processor: PixelProcessorLike | None = None,
        *,
        pseudonymizer: Pseudonymizer | None = None,
        options: Mapping[str, Any] | None = None,
        keep_preamble: bool = False,
        keep_codestream_text: bool = False,
    ) -> None:
        if not isinstance(profile, Profile):
            raise ConfigurationError(f"Core needs a Profile, got {profile!r}")
        self.profile = profile
        self.insertions: list[DataElement | Insertion] = list(insertions or [])
        for insertion in self.insertions:
            if not isinstance(insertion, DataElement | Insertion):
                raise ConfigurationError(f"not an insertion: {insertion!r}")
        self.bouncers: list[Bouncer] = list(bouncers or [])
        self.pixel_processor = pixel_processor
        if pseudonymizer is None:
            from idiscore.pseudonyms import Pseudonymizer

            pseudonymizer = Pseudonymizer.from_env()
        self.pseudonymizer = pseudonymizer
        self.options: dict[str, Any] = dict(options or {})
        self.options.setdefault(
            "applied_codes",
            tuple(rs.code[1] for rs in profile.rule_sets if rs.code is not None),
        )
        if not isinstance(keep_preamble, bool):
            raise ConfigurationError(f"keep_preamble must be True or False, not {keep_preamble!r}")
        self.keep_preamble = keep_preamble
        if not isinstance(keep_codestream_text, bool):
            raise ConfigurationError(
                f"keep_codestream_text must be True or False, not {keep_codestream_text!r}"
            )
        self.keep_codestream_text = keep_codestream_text
        self._rules: CompiledRules = profile.compiled
        #: The walker's raw fast paths (see :class:`~idiscore.walker.Walker`); off only to
        #: test them.
        self.raw_fast_paths = True

    def __repr__(self) -> str:
        pixels = type(self.pixel_processor).__name__ if self.pixel_processor else None
        return (
            f"Core(profile={self.profile.name!r}, bouncers={len(self.bouncers)}, "
            f"insertions={len(self.insertions)}, pixel_processor={pixels})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_rules"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._rules = self.profile.compiled

    # -- the four steps -------------------------------------------------------------

    def deidentify(self, dataset: Dataset, *, stream: bool = False) -> Dataset:
        """Return a de-identified copy of ``dataset``; ``dataset`` is left unchanged.

        With ``stream``, values ``dataset`` left in its file (read with
        ``defer_size``) that the rules keep are not loaded: the copy holds them as
        :class:`~idiscore.fileio.FileWindow` values, read from that file when written
        (so the file must not change until then). Without it they are read.

        The copy of a dataset with file meta information is an
        :class:`~idiscore.fileio.OutputDataset`: a ``FileDataset`` whose ``save_as``
        writes pydicom's bytes with idiscore's faster writer.

        Raises:
            DatasetRejectedError: a bouncer refused the dataset.
            DeidentificationError: an element or the pixel data could not be processed
                (:class:`~idiscore.errors.PixelDataProcessingError` for pixels).
            InputError: a value left in the file (``defer_size``) cannot be read any more.

        Any other error met on the way (pydicom cannot decode a value, the data set is
        nested too deeply ...) becomes a :class:`DeidentificationError` naming its type
        but not its message, which may quote an element value.
        """
        return self.deidentify_counting_warnings(dataset, stream=stream)[0]

    def deidentify_counting_warnings(
        self, dataset: Dataset, *, stream: bool = False
    ) -> tuple[Dataset, int]:
        """:meth:`deidentify`, and how many warnings pydicom issued meanwhile.

        pydicom warns about invalid values of the input as it decodes them, quoting the
        value: that would put PHI in logs, and says nothing about the output. Those
        warnings are counted and never shown; any other warning is passed on.
        """
        if not isinstance(dataset, Dataset):
            raise TypeError(f"deidentify() needs a pydicom Dataset, got {type(dataset)!r}")
        error: IDISCoreError | None = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.filterwarnings("always", category=UserWarning, module=r"pydicom\.")
            try:
                # pydicom's accessors (used by bouncers, pixel processing and operators)
                # store what they decode into the dataset: they get an isolated view
                output = self._deidentify(isolated(dataset), stream_deferred=stream)
            except Exception as exc:
                error = idiscore_error(exc, "cannot de-identify")
        count = 0
        for warning in caught:
            if issubclass(warning.category, UserWarning) and _PYDICOM in warning.filename:
                count += 1
            else:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        if error is not None:
            raise error from None
        return output, count

    def deidentify_file(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str] | BinaryIO,
        *,
        defer_size: int | None = DEFAULT_DEFER_SIZE,
        force: bool = False,
    ) -> Dataset:
        """De-identify the file ``source`` into ``destination``; return the new dataset.

        Gives the bytes of ``deidentify(dcmread(source)).save_as(destination)`` with
        less work and memory: values larger than ``defer_size`` that no rule changes
        (pixel data, mostly) are never loaded -- they are copied from ``source`` to
        ``destination`` in chunks -- and unchanged elements are written as read
        (see :mod:`idiscore.fileio`). A path ``destination`` is written to a
        temporary file in the same folder and renamed when complete, so it never
        exists half-written. ``source`` is only read.

        The returned dataset may stream its large values from ``source``: read them
        before ``source`` changes.

        Raises:
            InputError: ``source`` is not a readable DICOM file (a FIFO or a device is
                refused before it is opened), or is ``destination``.
            DatasetRejectedError, DeidentificationError: as :meth:`deidentify`.
            StorageError: ``destination`` cannot be written (also an ``OSError``).
        """
        path = os.fspath(source)
        if isinstance(destination, str | os.PathLike) and _same_file(path, destination):
            raise InputError(f"{path}: refusing to write the output over its own input")
        try:
            dataset = read_file(path, defer_size=defer_size, force=force)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom\.")
            try:
                output = self._deidentify(dataset, stream_deferred=True)
            except Exception as exc:
                raise idiscore_error(exc, "cannot de-identify") from None
            try:
                save_file(output, destination)
            except OSError as exc:
                if isinstance(exc, IDISCoreError):
                    raise
                if exc.errno is None:  # pydicom's wrapper of an encoding error
                    raise encoding_error(exc, "cannot write the de-identified data set") from None
                named = isinstance(destination, str | os.PathLike)
                where = repr(os.fspath(destination)) if named else "the output"  # type: ignore[arg-type]
                raise StorageError(
                    exc.errno, f"cannot write {where}: {exc.strerror or type(exc).__name__}"
                ) from None
            except Exception as exc:
                raise encoding_error(exc, "cannot write the de-identified data set") from None
        return output

    def _deidentify(self, dataset: Dataset, *, stream_deferred: bool = False) -> Dataset:
        pixels_will_be_cleaned = self._pixels_match(dataset)
        self.apply_bouncers(dataset, pixels_will_be_cleaned=pixels_will_be_cleaned)
        cleaned = self.apply_pixel_processing(dataset) if pixels_will_be_cleaned else dataset
        output = self.apply_rules(cleaned, stream_deferred=stream_deferred)
        if not self.keep_codestream_text:
            blank_dataset_text(output)
        clear_embedded_overlays(cleaned, output)
        info = DeidentificationInfo(profile=self.profile, pixels_cleaned=pixels_will_be_cleaned)
        findings = cleaned.__dict__.get(PIXEL_FINDINGS) if cleaned is not dataset else None
        if findings is not None:
            info.extra[PIXEL_FINDINGS] = findings
            object.__setattr__(output, PIXEL_FINDINGS, findings)
        self.apply_insertions(output, info)
        return output

    def _pixels_match(self, dataset: Dataset) -> bool:
        processor = self.pixel_processor
        return processor is not None and bool(processor.matches(dataset))

    def apply_bouncers(self, dataset: Dataset, *, pixels_will_be_cleaned: bool = False) -> None:
        """Step 1: raise :class:`DatasetRejectedError` if any bouncer rejects ``dataset``."""
        for bouncer in self.bouncers:
            bouncer.inspect(dataset, pixels_will_be_cleaned=pixels_will_be_cleaned)

    def apply_pixel_processing(self, dataset: Dataset) -> Dataset:
        """Step 2: blank the image regions of every matching location.

        Returns ``dataset`` itself when no location matches, else a new dataset.
        """
        if not self._pixels_match(dataset):
            return dataset
        assert self.pixel_processor is not None
        return self.pixel_processor.clean(dataset)

    def apply_rules(self, dataset: Dataset, *, stream_deferred: bool = False) -> Dataset:
        """Step 3: a new dataset with every element processed by its rule.

        With ``stream_deferred``, deferred values (see :func:`idiscore.fileio.read`)
        that are kept become :class:`~idiscore.fileio.FileWindow` values instead of
        being read into memory.
        """
        shared = _Shared(dataset, self.pseudonymizer)
        encoding = charset_of(dataset, "iso8859")
        context = Context(dataset, shared, options=self.options, encoding=encoding)
        walker = Walker(
            self._rules,
            dataset,
            raw_fast_paths=self.raw_fast_paths,
            stream_deferred=stream_deferred,
        )
        shared.sequence_processor = walker._sequence
        implicit, little = dataset.original_encoding
        out: Dataset
        if isinstance(dataset, FileDataset) or hasattr(dataset, "file_meta"):
            out = OutputDataset(
                getattr(dataset, "filename", None) or "",
                Dataset(),
                preamble=self._preamble(dataset),
                file_meta=FileMetaDataset(),
                is_implicit_VR=True if implicit is None else implicit,
                is_little_endian=True if little is None else little,
            )
            out.filename = None  # type: ignore[assignment]
        else:
            out = Dataset()
        out.set_original_encoding(implicit, little, dataset.original_character_set)
        walker.walk(dataset, context, out)
        meta = getattr(dataset, "file_meta", None)
        if meta is not None:
            new_meta = FileMetaDataset()
            # raw elements copied from the input's meta are in its encoding: say so, so
            # that writers copy them as they are
            meta_implicit, meta_little = meta.original_encoding
            if meta_implicit is not None:
                new_meta.set_original_encoding(
                    meta_implicit, meta_little, meta.original_character_set
                )
            meta_context = Context(meta, shared, options=self.options, encoding="iso8859")
            walker.walk(meta, meta_context, new_meta)
            if len(new_meta) or implicit is not None:
                # a complete PS3.10 header: pydicom recomputes the group length on writing
                new_meta[0x00020000] = DataElement(0x00020000, "UL", 0)
                if 0x00020001 not in new_meta:
                    new_meta[0x00020001] = DataElement(0x00020001, "OB", b"\x00\x01")
                if 0x00020012 not in new_meta:
                    new_meta[0x00020012] = DataElement(
                        0x00020012, "UI", PYDICOM_IMPLEMENTATION_UID
                    )
                if _TRANSFER_SYNTAX_UID not in new_meta and implicit is not None:
                    # say how the data set is encoded, so the file can be read back
                    syntax = (
                        ImplicitVRLittleEndian
                        if implicit
                        else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
                    )
                    new_meta[_TRANSFER_SYNTAX_UID] = DataElement(
                        _TRANSFER_SYNTAX_UID, "UI", syntax
                    )
            _sync_media_storage(new_meta, out)
            out.file_meta = new_meta
        return out

    def _preamble(self, dataset: Dataset) -> bytes:
        """128 zero bytes, or with ``keep_preamble`` the input's preamble (if it has one)."""
        preamble = getattr(dataset, "preamble", None) if self.keep_preamble else None
        return preamble or b"\x00" * 128

    def apply_insertions(self, dataset: Dataset, info: DeidentificationInfo) -> None:
        """Step 4: add the insertion elements to the (new) de-identified ``dataset``."""
        implicit, little = dataset.original_encoding
        for insertion in self.insertions:
            encoded = getattr(insertion, "encoded_elements", None)
            if encoded is not None and implicit is not None and little is not None:
                raw = encoded(info, implicit, little)
                if raw is not None:
                    # immutable raw elements, in the output's own encoding: shared by
                    # every output, written as they are, decoded by pydicom when read
                    out_dict = dataset._dict
                    for element in raw:
                        out_dict[element.tag] = element
                    continue
            if isinstance(insertion, DataElement):
                dataset[insertion.tag] = DataElement(insertion.tag, insertion.VR, insertion.value)
            else:
                for element in insertion.elements(dataset, info):
                    dataset[element.tag] = element


def _same_file(source: str, destination: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(source, destination)
    except OSError:
        return False


def _sync_media_storage(meta: Dataset, dataset: Dataset) -> None:
    """Make the file meta's media storage UIDs equal the dataset's SOP UIDs."""
    for meta_tag, tag in (
        (_MEDIA_SOP_INSTANCE_UID, _SOP_INSTANCE_UID),
        (_MEDIA_SOP_CLASS_UID, _SOP_CLASS_UID),
    ):
        element = dataset.get_item(tag)
        if element is None:
            continue
        value = read_element(dataset, tag, "iso8859").value
        if value:
            meta[meta_tag] = DataElement(meta_tag, "UI", value)
