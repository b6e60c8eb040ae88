"""Verify one output against its input: leaks, insertions, pixels, re-reading, dciodvfy.

:class:`PairVerifier` is the picklable per-file function the batch engines run
(:mod:`idiscore.batch.engines`); it returns a :class:`PairResult`, one JSON line of the
verify report. Nothing it reports is an element value: a leak is named by its class, the
element it sits in, the encoding it was found in and a short digest of the value.

**Kept by option.** A value found in an output element that the profile in force keeps on
purpose (a rule ``K`` of a PS3.15 option, e.g. Retain Device Identity keeping Station Name,
or Retain Safe Private keeping a private element) is listed under ``kept``, not as a leak.
The profile in force is the one given to the verifier, or else the one the output records:
the options of its De-identification Method Code Sequence (0012,0064). A rule set without a
CID 7050 code (a custom Keep rule) keeps nothing on purpose: what it keeps is a leak.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydicom.dataset import Dataset

from idiscore.errors import ConfigurationError
from idiscore.pixels.codestream import CodestreamError, blank_text, text_spans
from idiscore.pixels.overlays import cleared_value, described_groups
from idiscore.profile import Profile
from idiscore.standard.rulesets import CLEAN_PIXEL_DATA_CODE, OPTION_CODES
from idiscore.verify.search import (
    ElementSpan,
    element_spans,
    encodings_of,
    find_values,
    locate,
    pixel_span,
    read_bytes,
)
from idiscore.verify.values import Collected, collect

__all__ = ["STATUSES", "PairResult", "PairTask", "PairVerifier", "applied_profile"]

#: every status of a verify line, worst last
STATUSES = ("clean", "kept", "not_verified", "problem", "leak")
_BASIC_CODE = OPTION_CODES["basic"]
_RETAIN_UIDS = OPTION_CODES["retain_uids"]
_METHOD_CODES = 0x00120064
_IDENTITY_REMOVED = 0x00120062
_PIXEL_DATA = 0x7FE00010
_REFERENCED_SOP_INSTANCE = 0x00081155
_DICOM_ROOT = "1.2.840.10008."
#: classes of values that identify wherever they are found
_STRONG = frozenset({"name", "id", "date", "uid"})
#: what a weak value found in an attribute that PS3.15 leaves alone is listed as
NOT_IN_PROFILE = "not de-identified by the profile (PS3.15 keeps this attribute)"
_DCIODVFY = "dciodvfy"
_NUMBERS = re.compile(r"\d+")
#: dciodvfy quotes names (Element=<PatientID>) and values (<DOE^JOHN>) in angle brackets
_QUOTED = re.compile(r"(\b(?:Element|Module|Macro|Attribute|IOD)=)?<[^<>]*>|\"[^\"]*\"")


@dataclass(frozen=True)
class PairTask:
    """One input and the output to verify against it (small: crosses processes)."""

    input: str
    output: str | None
    status: str = "done"  # the de-identification run's status of the input
    reason: str = ""


@dataclass
class PairResult:
    """The verdict on one pair; ``to_json`` is its report line."""

    input: str
    output: str | None
    status: str = "clean"
    leaks: list[dict[str, str]] = field(default_factory=list)
    kept: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    values: int = 0
    seconds: float = 0.0
    #: for the set-wide UID checks (never reported): SOP Instance UIDs and references of
    #: the input and of the output, and every original UID of the input
    uids: dict[str, list[str]] = field(default_factory=dict, repr=False)
    #: for the HTML report (never in the JSON line): thumbnails and blanked boxes
    preview: dict[str, Any] | None = field(default=None, repr=False)

    def finish(self) -> None:
        if self.status == "not_verified":
            return
        if self.leaks:
            self.status = "leak"
        elif self.problems:
            self.status = "problem"
        elif self.kept:
            self.status = "kept"
        else:
            self.status = "clean"

    def record(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "leaks": self.leaks,
            "kept": self.kept,
            "problems": self.problems,
            "values": self.values,
            "seconds": round(self.seconds, 6),
        }

    def to_json(self) -> str:
        return json.dumps(self.record(), ensure_ascii=False)


@lru_cache(maxsize=64)
def _profile_for_codes(codes: tuple[str, ...]) -> Profile:
    from idiscore.defaults import get_dicom_rule_sets

    sets = get_dicom_rule_sets()
    by_code = {rule_set.code[1]: rule_set for rule_set in sets.all() if rule_set.code}
    chosen = [by_code[_BASIC_CODE]]
    chosen += [by_code[c] for c in codes if c in by_code and c != _BASIC_CODE]
    return Profile(chosen, name="recorded: " + "+".join(codes))


def method_codes(dataset: Dataset) -> tuple[str, ...]:
    """The code values of the De-identification Method Code Sequence, in order."""
    codes: list[str] = []
    if _METHOD_CODES in dataset:
        for item in dataset[_METHOD_CODES].value or ():
            value = str(item.get("CodeValue", "") or "")
            if value and value not in codes:
                codes.append(value)
    return tuple(codes)


def applied_profile(output: Dataset) -> Profile:
    """The PS3.15 profile and options an output says were applied (Basic Profile alone
    when it records none)."""
    return _profile_for_codes(method_codes(output))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.lower().encode("utf-8"), digest_size=4).hexdigest()


class PairVerifier:
    """Verify one :class:`PairTask` (picklable; one per batch, shared by the workers).

    Args:
        profile: the profile in force; None: read it from each output's method codes.
        dciodvfy: run dciodvfy on input and output (None: when it is installed).
        previews: keep thumbnails for the HTML report.
        ocr: the text engine that reads the output's pixels for identifying text
            (:mod:`idiscore.verify.pixel_text`), or None: the pixels are not read.
    """

    def __init__(
        self,
        profile: Profile | None = None,
        *,
        dciodvfy: bool | None = None,
        previews: bool = False,
        ocr: str | None = None,
    ) -> None:
        found = shutil.which(_DCIODVFY)
        if dciodvfy and found is None:
            raise ConfigurationError("dciodvfy was asked for but is not installed")
        self.dciodvfy = found if (dciodvfy is None or dciodvfy) else None
        self.profile = profile
        self.previews = previews
        self.ocr = ocr

    def __call__(self, task: PairTask) -> PairResult:
        start = time.perf_counter()
        result = PairResult(task.input, task.output)
        if task.status != "done" or task.output is None:
            result.status = "not_verified"
            result.problems.append(f"not de-identified ({task.status}): {task.reason}".strip())
        else:
            try:
                self._verify(task.input, task.output, result)
            except (KeyboardInterrupt, SystemExit, MemoryError):
                raise
            except Exception as exc:  # one bad pair never stops the audit
                result.problems.append(f"cannot verify: {type(exc).__name__}")
        result.finish()
        result.seconds = time.perf_counter() - start
        return result

    def _verify(self, input_path: str, output_path: str, result: PairResult) -> None:
        try:
            with open(input_path, "rb") as handle:
                original_bytes = handle.read()
        except OSError as exc:
            result.problems.append(f"cannot read input: {exc.strerror or type(exc).__name__}")
            return
        try:
            with open(output_path, "rb") as handle:
                output_bytes = handle.read()
        except OSError as exc:
            result.problems.append(f"cannot read output: {exc.strerror or type(exc).__name__}")
            return
        try:
            original = read_bytes(original_bytes)
        except Exception:
            result.problems.append("the input does not read as DICOM")
            return
        try:
            output = read_bytes(output_bytes)
            spans = _all_spans(output, output_bytes)
        except Exception:
            result.problems.append("the output does not re-read as DICOM")
            return
        collected = collect(original)
        values = collected.values
        result.values = len(values)
        skip = pixel_span(spans, len(output_bytes))
        # text segments of compressed frames (JPEG comments, Exif ...) are searched too
        texts = _codestream_text(output, output_bytes, skip)
        hits = find_values(output_bytes, values, encodings_of(output), skip, texts)
        profile = self.profile if self.profile is not None else applied_profile(output)
        self._judge(hits, spans, profile, result, texts)
        if self.ocr is not None:
            _check_pixel_text(output, collected, self.ocr, result)
        _check_insertions(output, result)
        self._check_pixels(original, original_bytes, output, output_bytes, spans, result)
        if self.dciodvfy is not None:
            _check_dciodvfy(self.dciodvfy, input_path, output_path, result)
        result.uids = _uid_facts(original, collected, output, spans, output_bytes)
        if _RETAIN_UIDS in method_codes(output) or _keeps_uids(self.profile):
            result.uids["retain_uids"] = ["1"]
        if self.previews:
            from idiscore.verify.preview import previews

            result.preview = previews(original, output)

    def _judge(
        self,
        hits: list[Any],
        spans: list[ElementSpan],
        profile: Profile,
        result: PairResult,
        texts: Sequence[tuple[int, int]] = (),
    ) -> None:
        seen: set[tuple[str, str, str]] = set()
        for hit in hits:
            span = locate(hit.offset, spans) if hit.offset >= 132 else None
            where = "preamble" if hit.offset < 128 else span.path if span else "unlocated"
            if any(start <= hit.offset < end for start, end in texts):
                where = "PixelData (text segment of a compressed frame)"
            entry = {
                "class": hit.value.kind,
                "where": where,
                "encoding": hit.encoding,
                "digest": _digest(hit.value.text),
            }
            key = (entry["class"], where, entry["digest"])
            if key in seen:
                continue
            seen.add(key)
            option = _kept_by(span, where, hit.value.kind, profile) if span else None
            if option is not None:
                entry["option"] = option
                result.kept.append(entry)
            else:
                result.leaks.append(entry)

    def _check_pixels(
        self,
        original: Dataset,
        original_bytes: bytes,
        output: Dataset,
        output_bytes: bytes,
        spans: list[ElementSpan],
        result: PairResult,
    ) -> None:
        after = pixel_span(spans, len(output_bytes))
        before = _pixel_range(original, len(original_bytes))
        if before is None:
            return
        if after is None:
            result.problems.append("the pixel data was removed")
            return
        if CLEAN_PIXEL_DATA_CODE in method_codes(output):
            return  # cleaning recorded: the pixels may differ
        same_syntax = _syntax(original) == _syntax(output)
        kept = original_bytes[before[0] : before[1]]
        written = output_bytes[after[0] : after[1]]
        # idiscore zeroes the text segments of compressed frames and clears overlays
        # embedded in unused bits: that is no change
        unchanged = kept == written or (
            same_syntax and _as_idiscore_writes(original, kept, output) == written
        )
        if not unchanged and same_syntax:
            result.problems.append("the pixel data changed, but no pixel cleaning is recorded")


def _check_pixel_text(
    output: Dataset, collected: Collected, engine: str, result: PairResult
) -> None:
    from idiscore.verify.pixel_text import pixel_text_leaks

    try:
        result.leaks.extend(pixel_text_leaks(output, collected.values, engine))
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # unreadable pixels are a problem, not the end of the audit
        result.problems.append(f"cannot read the pixels' text: {type(exc).__name__}")


#: The attributes the insertions step writes (top level), where only idiscore's text is.
_INSERTED = frozenset({"(0012,0062)", "(0012,0063)", "(0012,0064)", "(0028,0301)", "(0028,0303)"})
#: What a weak value found in those attributes is listed as (kept, not a leak).
INSERTED = "inserted by idiscore (de-identification method)"


def _kept_by(span: ElementSpan, where: str, kind: str, profile: Profile) -> str | None:
    """The option that keeps the element ``span`` on purpose, or None (a leak).

    An element kept by a ``K`` rule of a PS3.15 option is kept by that option; a value of a
    weak class (not a name, ID, date or UID) in a standard attribute the profile has no
    rule for is also not a leak: the same words are in an attribute PS3.15 does not count
    as identifying (a manufacturer, a plan label).
    """
    if where.startswith("meta:"):
        return None
    if where[:11] in _INSERTED and kind not in _STRONG:
        # idiscore's own words (method description and codes): a common word of the input
        # found there came from idiscore, not from the input
        return INSERTED
    rule = profile.compiled.lookup(span.tag, span.creator)
    if rule is None:
        standard = not (span.tag >> 16) & 1
        return NOT_IN_PROFILE if standard and kind not in _STRONG else None
    rule_set = profile.rule_set_of(rule)
    if (
        rule.action_code == "K"
        and rule_set is not None
        and rule_set.code is not None
        and rule_set.code[1] != _BASIC_CODE
    ):
        return rule_set.name
    return None


def _codestream_text(
    dataset: Dataset, data: bytes, pixels: tuple[int, int] | None
) -> list[tuple[int, int]]:
    """The byte ranges of ``data`` that hold the text segments of the compressed frames
    of its Pixel Data (:mod:`idiscore.pixels.codestream`)."""
    if pixels is None:
        return []
    try:
        spans = text_spans(data[pixels[0] : pixels[1]], _syntax(dataset))
    except CodestreamError:
        return []
    return [(pixels[0] + start, pixels[0] + end) for start, end in spans]


def _as_idiscore_writes(original: Dataset, value: bytes, output: Dataset) -> bytes | None:
    """The input's pixel data ``value`` as idiscore writes it when nothing else changes
    the pixels: the text segments of compressed frames zeroed, the overlays embedded in
    unused bits (that the output no longer describes) cleared."""
    syntax = _syntax(original)
    try:
        value = blank_text(value, syntax) or value
    except CodestreamError:
        return None
    return cleared_value(original, value, syntax, described_groups(output)) or value


def _pixel_range(dataset: Dataset, size: int) -> tuple[int, int] | None:
    raw = dataset.get_item(_PIXEL_DATA) if _PIXEL_DATA in dataset else None
    tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
    if tell is None or length is None:
        return None
    return (tell, tell + length if length != 0xFFFFFFFF else size)


def _keeps_uids(profile: Profile | None) -> bool:
    return profile is not None and any(
        rule_set.code is not None and rule_set.code[1] == _RETAIN_UIDS
        for rule_set in profile.rule_sets
    )


def _syntax(dataset: Dataset) -> str:
    meta = getattr(dataset, "file_meta", None)
    return str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""


def _all_spans(dataset: Dataset, data: bytes) -> list[ElementSpan]:
    spans: list[ElementSpan] = []
    meta = getattr(dataset, "file_meta", None)
    if meta is not None:
        spans.extend(element_spans(meta, data, "meta:"))
    spans.extend(element_spans(dataset, data))
    return spans


def _check_insertions(output: Dataset, result: PairResult) -> None:
    removed = output.get(_IDENTITY_REMOVED)
    if removed is None or str(removed.value).strip().upper() != "YES":
        result.problems.append("Patient Identity Removed (0012,0062) is not YES")
    codes = method_codes(output)
    if _BASIC_CODE not in codes:
        result.problems.append(
            "De-identification Method Code Sequence (0012,0064) lacks the Basic Profile"
        )


def _uid_facts(
    original: Dataset, collected: Collected, output: Dataset, spans: list[ElementSpan], data: bytes
) -> dict[str, list[str]]:
    uids_out: set[str] = set()
    refs_out: list[str] = []
    for span in spans:
        if span.vr != "UI" or span.path.startswith("meta:"):
            continue
        for uid in data[span.start : span.end].decode("latin-1").split("\\"):
            uid = uid.strip("\x00 ")
            if span.tag == _REFERENCED_SOP_INSTANCE and uid:
                refs_out.append(uid)
            if uid and not uid.startswith(_DICOM_ROOT):
                uids_out.add(uid)
    return {
        "sop_in": [str(original.get("SOPInstanceUID", "") or "")],
        "sop_out": [str(output.get("SOPInstanceUID", "") or "")],
        "refs_in": collected.references,
        "refs_out": refs_out,
        "uids_in": sorted(collected.uids),
        "uids_out": sorted(uids_out),
    }


def _keep_names(match: re.Match[str]) -> str:
    return match.group(0) if match.group(1) else "<>"


def _normalised_errors(text: str) -> set[str]:
    lines = set()
    for line in text.splitlines():
        if line.startswith("Error"):
            lines.add(_NUMBERS.sub("#", _QUOTED.sub(_keep_names, line)).strip())
    return lines


def _dciodvfy_errors(program: str, path: str) -> set[str]:
    try:
        completed = subprocess.run(
            [program, os.fspath(path)], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return {"dciodvfy could not run"}
    return _normalised_errors(completed.stdout + completed.stderr)


def _check_dciodvfy(program: str, input_path: str, output_path: str, result: PairResult) -> None:
    new = _dciodvfy_errors(program, output_path) - _dciodvfy_errors(program, input_path)
    for error in sorted(new)[:5]:
        result.problems.append(f"dciodvfy: new {error[:160]}")
