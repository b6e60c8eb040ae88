"""Keyed pseudonyms: UIDs, IDs, names and per-patient date shifts.

Every pseudonym comes from one derivation: HMAC-SHA256 under a secret key over a
domain-separated, length-prefixed encoding of the inputs. The same key and the same input give
the same pseudonym on any machine, in any process and in any order, so batches de-identified
months apart still link; without the key nobody can recompute a pseudonym from a guessed name
or ID. There is no process-local random state anywhere in the output path.

Conventions shared by all derivations:

* Empty in, empty out: an input that is empty after stripping spaces and NULs gives ``""``
  (Type 2 attributes stay empty; there is nothing to protect).
* Inputs are stripped of surrounding spaces and NUL padding before deriving, so a padded and an
  unpadded copy of one value give one pseudonym. Multi-valued elements are the caller's to
  split: a backslash is treated as an ordinary character here.
* A derived text, ID or name never contains its original (compared case-insensitively, for
  originals and backslash/``^``/``=`` separated parts of at least 3 characters): when a
  candidate does, it is derived again with the next counter value.

:class:`~idiscore.crosswalk.Crosswalk` (its own module, re-exported here with
:func:`is_valid_uid`) supplies
externally assigned pseudonyms that take precedence, and :class:`MappingRecorder` (opt-in)
records what was used, for the data custodian; :mod:`idiscore.batch.mapping_store` writes
that table to disk. This module does no I/O but reading a key file.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from idiscore.crosswalk import Crosswalk, is_valid_uid
from idiscore.errors import ConfigurationError, UnlinkableOutputWarning

KEY_ENV_VAR = "IDISCORE_KEY"
DEFAULT_UID_ROOT = "2.25."
#: Shift into the past by 1 to 10 years. Never into the future (shifted dates stay plausible,
#: no exam lands after "today"); at least a year so a shifted date is never within a few days
#: of the true one; 3286 possible values so a single known date does not give the shift away.
DEFAULT_DATE_SHIFT_DAYS = (-3650, -365)

_UID_ROOT_RE = re.compile(r"(?:(?:0|[1-9][0-9]*)\.)+\Z")
_UID_MAX = 64
_UID_MIN_DIGITS = 24  # a custom root leaves room for at least ~80 bits
_UID_MAX_DIGITS = 39  # 2**128 has 39 decimal digits
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TOKEN_LENGTH = 16  # base-36 characters (~82 bits) when the VR leaves room
_MIN_BODY = 6  # a prefix must leave at least this many derived characters
_FAMILY_LENGTH = 10
_GIVEN_LENGTH = 8
_MAX_TRIES = 1000
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_LONG = 2**32 - 2

# VR -> (maximum length in characters, derivation kind)
_TEXT_VRS: dict[str, tuple[int, str]] = {
    "AE": (16, "token"),
    "CS": (16, "token"),
    "SH": (16, "token"),
    "LO": (64, "token"),
    "ST": (1024, "token"),
    "LT": (10240, "token"),
    "UC": (_LONG, "token"),
    "UT": (_LONG, "token"),
    "UR": (_LONG, "token"),
    "IS": (12, "number"),
    "DS": (16, "number"),
}
_NOT_TEXT_VRS = frozenset(
    {"UI", "DA", "DT", "TM", "AS", "AT", "SQ", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"}
    | {"OB", "OD", "OF", "OL", "OV", "OW"}
)
_PREFIX_RULES: dict[str, re.Pattern[str]] = {
    "CS": re.compile(r"[A-Z0-9_][A-Z0-9 _]*\Z"),
    "UR": re.compile(r"[A-Za-z0-9._~:/-]+\Z"),
}
_DA_RE = re.compile(r"(\d{4})(?:(\d{2})(\d{2})?)?\Z")
_DA_LEGACY_RE = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})\Z")
_DT_RE = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})((?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?))?)?([+-]\d{4})?\Z"
)


def _strip(value: str) -> str:
    return value.strip(" \x00")


def _needles(original: str, separators: str) -> tuple[str, ...]:
    """The (case-folded) strings a pseudonym of ``original`` must not contain."""
    pieces = {original, *re.split(f"[{re.escape(separators)}]", original)}
    folded = (_strip(p).casefold() for p in pieces)
    return tuple(sorted({p for p in folded if len(p) >= 3}))


def _contains_any(value: str, needles: tuple[str, ...]) -> bool:
    folded = value.casefold()
    return any(n in folded for n in needles)


def _token(digest: bytes, alphabet: str, length: int) -> str:
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def _check_prefix(prefix: str, allowed: re.Pattern[str] | None, extra_forbidden: str) -> None:
    if not prefix:
        return
    if prefix[0].isspace() or _CONTROL_RE.search(prefix) or "\\" in prefix:
        raise ConfigurationError(
            "a pseudonym prefix must not start with a space or contain control characters "
            "or backslashes"
        )
    if allowed is not None and not allowed.match(prefix):
        raise ConfigurationError(f"pseudonym prefix {prefix!r} has characters the VR forbids")
    if any(c in prefix for c in extra_forbidden):
        raise ConfigurationError(f"pseudonym prefix {prefix!r} must not contain {extra_forbidden}")


def _body_length(vr: str, prefix: str) -> int:
    """Derived characters after ``prefix`` for ``vr``; ConfigurationError if it cannot fit."""
    if vr == "PN":
        _check_prefix(prefix, None, "^=")
        room = 64 - len(prefix)
        wanted = _FAMILY_LENGTH
    else:
        max_length, kind = _TEXT_VRS.get(vr, _TEXT_VRS["LO"])
        if kind == "number":
            if prefix:
                raise ConfigurationError(f"a {vr} pseudonym cannot have a prefix")
            return 0
        _check_prefix(prefix, _PREFIX_RULES.get(vr), "")
        room = max_length - len(prefix)
        wanted = _TOKEN_LENGTH
    if room < _MIN_BODY:
        raise ConfigurationError(
            f"pseudonym prefix of {len(prefix)} characters leaves too little room in a {vr} value"
        )
    return min(wanted, room)


def _normalise_person_name(value: str) -> str:
    groups = []
    for group in _strip(value).split("="):
        components = [c.strip().casefold() for c in group.split("^")]
        while components and not components[-1]:
            components.pop()
        groups.append("^".join(components))
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


#: derived UIDs remembered (cleared when full): enough for the study, series and frame of
#: reference UIDs of a batch and the instance UIDs neighbouring files refer to; about 2 MB
_UID_CACHE_SIZE = 8192


class Pseudonymizer:
    """Derives every pseudonym from one secret key with HMAC-SHA256.

    ``key`` is bytes or a str (encoded UTF-8). ``None`` generates a random key for this run
    (``is_ephemeral``) and warns with :class:`UnlinkableOutputWarning`: the results will not
    link with any other run. Use a long random key (32 bytes or more) and keep it secret; whoever
    holds it can recompute pseudonyms from guessed names and IDs.

    ``uid_root`` is the prefix of new UIDs. Under the default ``"2.25."`` the UID is the
    integer form of a UUID (version 8, "custom") whose 122 free bits come from the HMAC; under
    any other root it is the root followed by up to 39 HMAC-derived decimal digits.
    ``date_shift_days`` is the inclusive range of per-patient shifts, see
    :data:`DEFAULT_DATE_SHIFT_DAYS`. ``crosswalk`` overrides derived UIDs, patient IDs and
    patient names; ``recorder`` receives every (kind, original, pseudonym) used.

    The object pickles with its key (a worker must derive the same values) and its recorder if
    one is attached. The key never appears in ``repr`` or ``str``.
    """

    def __init__(
        self,
        key: bytes | str | None = None,
        *,
        uid_root: str = DEFAULT_UID_ROOT,
        date_shift_days: tuple[int, int] = DEFAULT_DATE_SHIFT_DAYS,
        crosswalk: Crosswalk | None = None,
        recorder: MappingRecorder | None = None,
    ) -> None:
        if key is None:
            key_bytes = os.urandom(32)
            self.is_ephemeral = True
            warnings.warn(
                UnlinkableOutputWarning(
                    "no secret key given: a random key was generated for this run, so its "
                    "pseudonyms (UIDs, IDs, names, date shifts) will not match those of any "
                    f"other run; set {KEY_ENV_VAR} or pass a key to link results"
                ),
                stacklevel=2,
            )
        else:
            if isinstance(key, str):
                key_bytes = key.encode("utf-8")
            elif isinstance(key, bytes | bytearray | memoryview):
                key_bytes = bytes(key)
            else:
                raise ConfigurationError(f"the key must be bytes or str, not {type(key).__name__}")
            if not key_bytes:
                raise ConfigurationError("the key must not be empty")
            self.is_ephemeral = False
        if not isinstance(uid_root, str) or not _UID_ROOT_RE.match(uid_root):
            raise ConfigurationError(
                f"uid_root {uid_root!r} is not a UID prefix ending with '.' (e.g. '2.25.')"
            )
        if len(uid_root) > _UID_MAX - _UID_MIN_DIGITS:
            raise ConfigurationError(
                f"uid_root is {len(uid_root)} characters; at most "
                f"{_UID_MAX - _UID_MIN_DIGITS} leave room for a collision-resistant UID"
            )
        try:
            low, high = date_shift_days
        except (TypeError, ValueError):
            raise ConfigurationError("date_shift_days must be a (low, high) pair") from None
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in (low, high)):
            raise ConfigurationError("date_shift_days must be a pair of whole numbers of days")
        if low > high:
            raise ConfigurationError(f"date_shift_days range is empty: {low} > {high}")
        self._key = key_bytes
        self.uid_root = uid_root
        self.date_shift_range = (low, high)
        self.crosswalk = crosswalk
        self.recorder = recorder
        self._mac = hmac.new(key_bytes, digestmod=hashlib.sha256)
        self._uids: dict[tuple[str, str], str] = {}  # derived UIDs: studies repeat in a batch

    @classmethod
    def from_env(cls, **kwargs: Any) -> Pseudonymizer:
        """Key from the ``IDISCORE_KEY`` environment variable; a random key if it is unset."""
        key = os.environ.get(KEY_ENV_VAR)
        if key is not None and not key:
            raise ConfigurationError(f"{KEY_ENV_VAR} is set but empty")
        return cls(key, **kwargs)

    @classmethod
    def from_key_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> Pseudonymizer:
        """Key from the bytes of a file, without its trailing line break."""
        try:
            key = Path(path).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ConfigurationError(f"cannot read key file {os.fspath(path)!r}: {exc}") from None
        if not key:
            raise ConfigurationError(f"key file {os.fspath(path)!r} is empty")
        return cls(key, **kwargs)

    # -- pickling and display: the key travels in the pickle, never in text ----------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_mac"]  # HMAC objects do not pickle; rebuilt from the key
        state.pop("_uids", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._mac = hmac.new(self._key, digestmod=hashlib.sha256)
        self._uids = {}

    def __repr__(self) -> str:
        key = "<ephemeral>" if self.is_ephemeral else "<hidden>"
        return (
            f"Pseudonymizer(uid_root={self.uid_root!r}, "
            f"date_shift_days={self.date_shift_range!r}, key={key})"
        )

    __str__ = __repr__

    @property
    def key_fingerprint(self) -> str:
        """16 hex digits identifying the key (to check two runs used the same one)."""
        return self._digest("key-fingerprint", ()).hex()[:16]

    @staticmethod
    def check_prefix(vr: str, prefix: str) -> None:
        """Raise ConfigurationError if ``prefix`` cannot start a ``vr`` pseudonym.

        Lets a rule validate its prefix when it is built rather than mid-batch.
        """
        if vr.upper() in _NOT_TEXT_VRS:
            raise ConfigurationError(f"{vr} values have no text pseudonym")
        _body_length(vr.upper(), prefix)

    # -- derivation -------------------------------------------------------------------------

    def _digest(self, domain: str, parts: tuple[str, ...], counter: int = 0) -> bytes:
        mac = self._mac.copy()
        chunks = [b"idiscore/v1", domain.encode("ascii")]
        chunks += [part.encode("utf-8", "surrogatepass") for part in parts]
        chunks.append(str(counter).encode("ascii"))
        for chunk in chunks:  # length-prefixed, so no two inputs encode alike
            mac.update(len(chunk).to_bytes(8, "big"))
            mac.update(chunk)
        return mac.digest()

    def _derive_free(
        self,
        domain: str,
        parts: tuple[str, ...],
        make: Callable[[bytes], str],
        needles: tuple[str, ...],
    ) -> str:
        """First ``make(digest)`` over counters 0, 1, ... that contains none of ``needles``."""
        for counter in range(_MAX_TRIES):
            value = make(self._digest(domain, parts, counter))
            if not _contains_any(value, needles):
                return value
        raise ValueError("could not derive a pseudonym free of its original value")

    def _record(self, kind: str, original: str, pseudonym: str) -> str:
        if self.recorder is not None:
            self.recorder.record(kind, original, pseudonym)
        return pseudonym

    def uid(self, original: str) -> str:
        """A valid UID under ``uid_root`` for ``original`` (crosswalk first). Empty stays empty."""
        original = _strip(original)
        if not original:
            return ""
        new = self.crosswalk.uid(original) if self.crosswalk is not None else None
        if new is None:
            new = self._uids.get((self.uid_root, original))
        if new is None:
            raw = bytearray(self._digest("uid", (original,))[:16])
            if self.uid_root == DEFAULT_UID_ROOT:
                raw[6] = (raw[6] & 0x0F) | 0x80  # UUID version 8
                raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
            digits = min(_UID_MAX_DIGITS, _UID_MAX - len(self.uid_root))
            new = self.uid_root + str(int.from_bytes(raw, "big") % 10**digits)
            if len(self._uids) >= _UID_CACHE_SIZE:
                self._uids.clear()
            self._uids[(self.uid_root, original)] = new
        return self._record("uid", original, new)

    def text(self, original: str, vr: str, *, prefix: str = "") -> str:
        """A stable pseudonym that is a valid value of ``vr``; empty stays empty.

        Text VRs (AE, CS, SH, LO, ST, LT, UC, UT, UR and unknown VRs, treated as LO) get
        ``prefix`` + upper-case letters and digits (16, or fewer if the VR's maximum length
        leaves less room after the prefix). IS gets a non-negative integer below 2**31, DS one
        below 10**15; neither takes a prefix. PN is :meth:`person_name`. UI, dates, times, AS
        and binary VRs raise ValueError (use :meth:`uid` or the date shifts).
        """
        vr = vr.upper()
        if vr == "PN":
            return self.person_name(original, prefix=prefix)
        if vr in _NOT_TEXT_VRS:
            raise ValueError(f"{vr} values have no text pseudonym")
        body = _body_length(vr, prefix)
        return self._text("text", _strip(original), (), vr, prefix, body)

    def _text(
        self, kind: str, original: str, context: tuple[str, ...], vr: str, prefix: str, body: int
    ) -> str:
        """Token (or IS/DS number) for ``original``; one derivation for all text VRs, so the
        same value gets the same token in a LO and in a SH element (room permitting)."""
        if not original:
            return ""
        needles = _needles(original, "\\")
        if _contains_any(prefix, needles):
            prefix = ""  # the prefix itself would reveal the original
        modulus = {"IS": 2**31, "DS": 10**15}.get(vr)

        def make(digest: bytes) -> str:
            if modulus is not None:
                return str(int.from_bytes(digest, "big") % modulus)
            return prefix + _token(digest, _ALNUM, body)

        domain = kind if modulus is None else f"{kind}:{vr}"
        new = self._derive_free(domain, (original, *context), make, needles)
        return self._record(kind, original, new)

    def person_name(self, original: str, *, prefix: str = "", patient_id: str = "") -> str:
        """A valid PN ``<prefix><FAMILY>^<GIVEN>`` of upper-case letters; empty stays empty.

        Names are compared after normalising: surrounding spaces of the value and of each
        component are ignored, as are case and trailing empty components and groups, so
        ``"Doe^John"`` and ``"DOE^JOHN^^"`` get one pseudonym. Different ideographic or
        phonetic groups make different names. With ``patient_id`` given, a crosswalk name for
        that patient takes precedence.
        """
        if self.crosswalk is not None and patient_id:
            new = self.crosswalk.patient_name(patient_id)
            if new is not None:
                return self._record("name", _strip(original), new)
        family_length = _body_length("PN", prefix)
        normalised = _normalise_person_name(original)
        if not normalised:
            return ""
        needles = _needles(normalised, "\\^=")
        if _contains_any(prefix, needles):
            prefix = ""

        def make(digest: bytes) -> str:
            letters = _token(digest, _LETTERS, family_length + _GIVEN_LENGTH)
            return f"{prefix}{letters[:family_length]}^{letters[family_length:]}"

        new = self._derive_free("name", (normalised,), make, needles)
        return self._record("name", _strip(original), new)

    def patient_id(self, original: str, issuer: str = "", *, prefix: str = "") -> str:
        """A pseudonym for a patient ID (LO rules, <= 64), scoped by its issuer.

        A crosswalk entry for the ID (looked up without the issuer) takes precedence.
        Empty stays empty.
        """
        original = _strip(original)
        if self.crosswalk is not None and original:
            new = self.crosswalk.patient_id(original)
            if new is not None:
                return self._record("patient_id", original, new)
        body = _body_length("LO", prefix)
        return self._text("patient_id", original, (_strip(issuer),), "LO", prefix, body)

    def date_shift_days(self, patient_id: str, issuer: str = "") -> int:
        """The patient's shift in days, within ``date_shift_days``; the same for every call.

        Recorded as original ``patient_id`` (followed by ``\\`` and the issuer, if any).
        """
        patient_id, issuer = _strip(patient_id), _strip(issuer)
        low, high = self.date_shift_range
        number = int.from_bytes(self._digest("date_shift", (patient_id, issuer)), "big")
        days = low + number % (high - low + 1)
        self._record("date_shift", f"{patient_id}\\{issuer}" if issuer else patient_id, str(days))
        return days

    # -- dates ------------------------------------------------------------------------------

    def shift_date(self, value: str, days: int) -> str:
        """Shift a DA value by ``days``.

        Handles ``YYYYMMDD``, multiple values (``A\\B``), ranges (``A-B``, either side may be
        empty), the ACR-NEMA form ``YYYY.MM.DD`` (written back as ``YYYYMMDD``) and partial
        dates: ``YYYYMM`` is read as the 15th and ``YYYY`` as 1 July (the middle of the period,
        so a short shift does not jump a month or year), shifted, and cut back to the same
        precision. Empty values stay empty; anything else raises ValueError.
        """
        return "\\".join(_shift_da(v, days) for v in value.split("\\"))

    def shift_datetime(self, value: str, days: int) -> str:
        """Shift the date part of a DT value by ``days``, keeping time, fraction and offset.

        Partial values keep their precision (the date part follows :meth:`shift_date`'s rule).
        Multiple values are shifted one by one; empty values stay empty; others raise
        ValueError.
        """
        return "\\".join(_shift_dt(v, days) for v in value.split("\\"))


def _shift_ymd(year: str, month: str | None, day: str | None, days: int) -> str:
    try:
        when = datetime.date(int(year), int(month or 7), int(day or (15 if month else 1)))
        when += datetime.timedelta(days=days)
    except (ValueError, OverflowError):
        raise ValueError("not a valid date, or the shift leaves the calendar") from None
    text = f"{when.year:04d}{when.month:02d}{when.day:02d}"
    return text[: 4 + 2 * (month is not None) + 2 * (day is not None)]


def _shift_da(value: str, days: int) -> str:
    value = value.strip(" \x00")
    if not value:
        return ""
    if "-" in value:
        ends = value.split("-")
        if len(ends) == 2 and any(ends):
            return "-".join(_shift_da(end, days) for end in ends)
    match = _DA_RE.match(value) or _DA_LEGACY_RE.match(value)
    if match is None:
        raise ValueError(f"not a DA value ({len(value)} characters)")
    year, month, day = match.groups()
    return _shift_ymd(year, month, day, days)


def _shift_dt(value: str, days: int) -> str:
    value = value.strip(" \x00")
    if not value:
        return ""
    match = _DT_RE.match(value)
    if match is None:
        raise ValueError(f"not a DT value ({len(value)} characters)")
    year, month, day, time, offset = match.groups()
    hh_mm_ss = (time or "")[:6]
    fields = [int(hh_mm_ss[i : i + 2]) for i in range(0, len(hh_mm_ss), 2)]
    if any(f > limit for f, limit in zip(fields, (23, 59, 60), strict=False)):
        raise ValueError("not a DT value (time out of range)")
    if offset and (int(offset[1:3]) > 14 or int(offset[3:]) > 59):
        raise ValueError("not a DT value (UTC offset out of range)")
    return _shift_ymd(year, month, day, days) + (time or "") + (offset or "")


class MappingRecorder:
    """Collects (kind, original, pseudonym) triples for the data custodian.

    Kinds used by :class:`Pseudonymizer`: ``uid``, ``patient_id``, ``name``, ``text`` and
    ``date_shift`` (pseudonym = the shift in days). Each distinct triple is kept once.
    Recorders filled in worker processes come back by pickle (or as :meth:`entries`) and are
    combined with :meth:`merge`. :func:`idiscore.batch.mapping_store.write_mapping` stores
    the table (readable by its owner only: it re-identifies patients; keep it as safe as
    the key) and :func:`~idiscore.batch.mapping_store.read_mapping` loads it back.
    """

    def __init__(self, entries: Iterable[tuple[str, str, str]] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str], None] = {}
        self.merge(entries)

    def record(self, kind: str, original: str, pseudonym: str) -> None:
        """Remember that ``original`` of ``kind`` became ``pseudonym``."""
        with self._lock:
            self._entries[(kind, original, pseudonym)] = None

    def merge(
        self, other: MappingRecorder | Iterable[tuple[str, str, str]]
    ) -> list[tuple[str, str, str]]:
        """Add the entries of another recorder (or an iterable of triples).

        Returns the triples that were not known yet, in the order they came.
        """
        triples = other.entries() if isinstance(other, MappingRecorder) else list(other)
        added: list[tuple[str, str, str]] = []
        with self._lock:
            for kind, original, pseudonym in triples:
                entry = (kind, original, pseudonym)
                if entry not in self._entries:
                    self._entries[entry] = None
                    added.append(entry)
        return added

    def entries(self) -> list[tuple[str, str, str]]:
        """All distinct entries, sorted."""
        with self._lock:
            return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MappingRecorder({len(self)} entries)"

    def __getstate__(self) -> dict[str, Any]:
        return {"entries": self.entries()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._entries = dict.fromkeys(state["entries"])


__all__ = [
    "DEFAULT_DATE_SHIFT_DAYS",
    "DEFAULT_UID_ROOT",
    "KEY_ENV_VAR",
    "Crosswalk",
    "MappingRecorder",
    "Pseudonymizer",
    "is_valid_uid",
]
