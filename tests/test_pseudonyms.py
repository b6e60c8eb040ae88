"""Keyed pseudonyms: deterministic, linkable, valid per VR, and not recomputable without key."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import itertools
import json
import os
import pickle
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import idiscore
from idiscore import pseudonyms
from idiscore.errors import ConfigurationError, UnlinkableOutputWarning
from idiscore.pseudonyms import (
    DEFAULT_DATE_SHIFT_DAYS,
    KEY_ENV_VAR,
    Crosswalk,
    MappingRecorder,
    Pseudonymizer,
)

KEY = "correct horse battery staple 0123456789"
UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
FAST = settings(derandomize=True, max_examples=60, deadline=None)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TEXT_VRS = ["AE", "CS", "SH", "LO", "ST", "LT", "UC", "UT", "UR", "IS", "DS", "PN", "UN", "XX"]


@pytest.fixture
def pz() -> Pseudonymizer:
    return Pseudonymizer(KEY)


def assert_valid_uid(value: str) -> None:
    assert UID_RE.match(value), value
    assert len(value) <= 64


def assert_valid_for_vr(value: str, vr: str) -> None:
    """Independent statement of each VR's value rules (PS3.5 table 6.2-1)."""
    if vr == "IS":
        assert re.fullmatch(r"[+-]?[0-9]+", value) and len(value) <= 12
        assert -(2**31) <= int(value) < 2**31
        return
    if vr == "DS":
        assert re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", value)
        assert len(value) <= 16
        return
    assert "\\" not in value and not CONTROL.search(value)
    if vr == "PN":
        groups = value.split("=")
        assert len(groups) <= 3 and all(len(g) <= 64 for g in groups)
        assert all(len(g.split("^")) <= 5 for g in groups)
        return
    limits = {"AE": 16, "CS": 16, "SH": 16, "ST": 1024, "LT": 10240}
    assert len(value) <= limits.get(vr, 64 if vr not in ("UC", "UT", "UR") else 2**32 - 2)
    if vr == "CS":
        assert re.fullmatch(r"[A-Z0-9 _]*", value)
    if vr == "AE":
        assert value == value.strip(" ")
    if vr == "UR":
        assert " " not in value


# -- determinism ------------------------------------------------------------------------------

SAMPLES = ["1.2.840.113619.2.1.1", "Doe^John", "PAT-0001", "ACC123", "", "  padded  "]


def outputs(p: Pseudonymizer) -> dict[str, object]:
    return {
        "uid": [p.uid(s) for s in SAMPLES],
        "lo": [p.text(s, "LO") for s in SAMPLES],
        "sh": [p.text(s, "SH", prefix="X") for s in SAMPLES],
        "is": [p.text(s, "IS") for s in SAMPLES],
        "pn": [p.person_name(s, prefix="ANON") for s in SAMPLES],
        "pid": [p.patient_id(s, "HOSP") for s in SAMPLES],
        "shift": [p.date_shift_days(s) for s in SAMPLES],
    }


def test_same_key_same_outputs_in_any_order() -> None:
    first = outputs(Pseudonymizer(KEY))
    second = Pseudonymizer(KEY.encode("utf-8"))
    second.uid("something else first")  # no state carried between derivations
    assert outputs(second) == first


def test_same_outputs_after_pickle(pz: Pseudonymizer) -> None:
    clone = pickle.loads(pickle.dumps(pz))
    assert outputs(clone) == outputs(pz)
    assert clone.key_fingerprint == pz.key_fingerprint


def test_ephemeral_key_travels_with_the_pickle() -> None:
    with pytest.warns(UnlinkableOutputWarning):
        p = Pseudonymizer()
    assert outputs(pickle.loads(pickle.dumps(p))) == outputs(p)


def test_same_outputs_in_another_process(pz: Pseudonymizer) -> None:
    src = str(Path(idiscore.__file__).resolve().parents[1])
    # The child recomputes the same table with its own interpreter and hash seed.
    code = (
        "import json, sys\n"
        "from idiscore.pseudonyms import Pseudonymizer\n"
        f"S = {SAMPLES!r}\n"
        "p = Pseudonymizer.from_env()\n"
        "print(json.dumps({\n"
        "  'uid': [p.uid(s) for s in S],\n"
        "  'lo': [p.text(s, 'LO') for s in S],\n"
        "  'sh': [p.text(s, 'SH', prefix='X') for s in S],\n"
        "  'is': [p.text(s, 'IS') for s in S],\n"
        "  'pn': [p.person_name(s, prefix='ANON') for s in S],\n"
        "  'pid': [p.patient_id(s, 'HOSP') for s in S],\n"
        "  'shift': [p.date_shift_days(s) for s in S]}))\n"
    )
    env = {**os.environ, KEY_ENV_VAR: KEY, "PYTHONHASHSEED": "12345"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == json.loads(json.dumps(outputs(pz)))


def test_other_key_other_pseudonyms(pz: Pseudonymizer) -> None:
    other = Pseudonymizer(KEY + "!")
    for s in SAMPLES[:4]:
        assert other.uid(s) != pz.uid(s)
        assert other.text(s, "LO") != pz.text(s, "LO")
        assert other.person_name(s) != pz.person_name(s)
        assert other.patient_id(s) != pz.patient_id(s)
    shifts = [p.date_shift_days(f"P{i}") for p in (pz, other) for i in range(20)]
    assert shifts[:20] != shifts[20:]
    assert other.key_fingerprint != pz.key_fingerprint


def test_issuer_scopes_patient_id_and_shift(pz: Pseudonymizer) -> None:
    assert pz.patient_id("123", "A") != pz.patient_id("123", "B")
    shifts_a = [pz.date_shift_days(f"P{i}", "A") for i in range(10)]
    shifts_b = [pz.date_shift_days(f"P{i}", "B") for i in range(10)]
    assert shifts_a != shifts_b


def test_padding_does_not_change_pseudonyms(pz: Pseudonymizer) -> None:
    assert pz.uid("1.2.3\x00") == pz.uid("1.2.3")
    assert pz.text(" ABC ", "LO") == pz.text("ABC", "LO")
    assert pz.patient_id("123 ") == pz.patient_id("123")
    assert pz.date_shift_days("123 ") == pz.date_shift_days("123")


def test_empty_stays_empty(pz: Pseudonymizer) -> None:
    for vr in TEXT_VRS:
        assert pz.text("", vr) == ""
        assert pz.text("  ", vr) == ""
    assert pz.uid("") == pz.person_name("^^") == pz.patient_id(" ") == ""


# -- validity ---------------------------------------------------------------------------------


@FAST
@given(st.text())
def test_uid_is_valid_for_any_input(original: str) -> None:
    new = Pseudonymizer(KEY).uid(original)
    if original.strip(" \x00"):
        assert_valid_uid(new)
        assert new.startswith("2.25.")
        assert uuid.UUID(int=int(new[5:])).version == 8
    else:
        assert new == ""


uid_roots = (
    st.lists(st.integers(min_value=0, max_value=10**6).map(str), min_size=1, max_size=8)
    .map(lambda parts: ".".join(parts) + ".")
    .filter(lambda root: len(root) <= 40)
)


@FAST
@given(uid_roots, st.text(min_size=1).filter(lambda s: s.strip(" \x00")))
def test_uid_is_valid_under_custom_roots(root: str, original: str) -> None:
    new = Pseudonymizer(KEY, uid_root=root).uid(original)
    assert_valid_uid(new)
    assert new.startswith(root) and len(new) > len(root)


def test_uid_root_of_maximum_length_still_fits() -> None:
    root = "1." * 20  # 40 characters
    new = Pseudonymizer(KEY, uid_root=root).uid("1.2.3")
    assert_valid_uid(new)
    assert new.startswith(root)


def test_distinct_uids_for_distinct_inputs(pz: Pseudonymizer) -> None:
    originals = [f"1.2.3.{i}" for i in range(2000)]
    assert len({pz.uid(o) for o in originals}) == len(originals)


@FAST
@given(st.text(), st.sampled_from(TEXT_VRS))
def test_text_fits_every_vr(original: str, vr: str) -> None:
    new = Pseudonymizer(KEY).text(original, vr)
    if new:
        assert_valid_for_vr(new, vr)
    assert bool(new) == bool(original.strip(" \x00")) or vr == "PN"


@pytest.mark.parametrize(
    ("vr", "prefix"),
    [
        ("LO", "ANON_"),
        ("SH", "ANON-123"),
        ("CS", "ANON X"),
        ("AE", "AE_"),
        ("LT", "x" * 500),
        ("PN", "ANON"),
        ("SH", "A" * 10),
        ("LO", "P" * 58),
    ],
)
def test_prefix_counts_toward_the_length(pz: Pseudonymizer, vr: str, prefix: str) -> None:
    for original in SAMPLES[:4]:
        new = pz.text(original, vr, prefix=prefix)
        assert new.startswith(prefix)
        assert_valid_for_vr(new, vr)


@pytest.mark.parametrize(
    ("vr", "prefix"),
    [
        ("SH", "A" * 11),
        ("CS", "anon"),
        ("IS", "1"),
        ("DS", "9"),
        ("LO", " X"),
        ("LO", "A\\B"),
        ("PN", "A^B"),
        ("PN", "A=B"),
        ("AE", "X\n"),
        ("UR", "a b"),
        ("UI", ""),
        ("DA", ""),
    ],
)
def test_prefix_that_cannot_fit_is_a_configuration_error(vr: str, prefix: str) -> None:
    with pytest.raises(ConfigurationError):
        Pseudonymizer.check_prefix(vr, prefix)
    if vr not in ("UI", "DA"):
        with pytest.raises(ConfigurationError):
            Pseudonymizer(KEY).text("value", vr, prefix=prefix)


@pytest.mark.parametrize("vr", ["UI", "DA", "DT", "TM", "AS", "US", "OB", "SQ"])
def test_vrs_without_text_pseudonym(pz: Pseudonymizer, vr: str) -> None:
    with pytest.raises(ValueError, match=vr):
        pz.text("1", vr)


def test_same_value_same_token_across_text_vrs(pz: Pseudonymizer) -> None:
    assert pz.text("ACC42", "SH") == pz.text("ACC42", "LO") == pz.text("ACC42", "XX")
    assert pz.text("ACC42", "LO", prefix="A_").startswith("A_")


# -- the original never survives --------------------------------------------------------------

short_texts = st.text(alphabet="AB01 ^\\abz", min_size=3, max_size=5)


@FAST
@given(st.one_of(short_texts, st.text(min_size=3)), st.sampled_from(TEXT_VRS))
def test_derived_value_never_contains_its_original(original: str, vr: str) -> None:
    p = Pseudonymizer(KEY)
    stripped = original.strip(" \x00").casefold()
    for new in (p.text(original, vr), p.patient_id(original), p.person_name(original)):
        if len(stripped) >= 3:
            assert stripped not in new.casefold()


def test_counter_rederives_when_the_first_candidate_contains_the_original(
    pz: Pseudonymizer,
) -> None:
    # Find 3-character originals whose first (counter 0) candidate would contain them.
    def first_candidate(original: str) -> str:
        digest = pz._digest("text", (original,), 0)
        return pseudonyms._token(digest, pseudonyms._ALNUM, 16)

    alphabet = pseudonyms._ALNUM
    candidates = ("".join(chars) for chars in itertools.product(alphabet, repeat=3))
    hits = [o for o in candidates if o in first_candidate(o)]
    assert hits, "no example found; widen the search"
    for original in hits:
        new = pz.text(original, "LO")
        assert original not in new and len(new) == 16
        assert new != first_candidate(original)


def test_prefix_that_reveals_the_original_is_dropped(pz: Pseudonymizer) -> None:
    assert "NON" not in pz.text("non", "LO", prefix="ANON_")
    assert pz.text("Smith", "LO", prefix="ANON_").startswith("ANON_")
    assert "ANON" not in pz.person_name("Anon^X", prefix="ANON")


# -- not recomputable without the key ---------------------------------------------------------


def unkeyed_candidates(original: str) -> set[str]:
    """UIDs and tokens an attacker without the key could compute from a guessed value."""
    candidates: set[str] = set()
    raw = original.encode()
    for digest in (
        hashlib.md5(raw).digest(),
        hashlib.sha1(raw).digest(),
        hashlib.sha256(raw).digest(),
        hmac.new(b"", raw, hashlib.sha256).digest(),
        hmac.new(b"other key", raw, hashlib.sha256).digest(),
    ):
        as_uuid = bytearray(digest[:16])
        as_uuid[6] = (as_uuid[6] & 0x0F) | 0x80
        as_uuid[8] = (as_uuid[8] & 0x3F) | 0x80
        for number in (int.from_bytes(digest[:16], "big"), int.from_bytes(as_uuid, "big")):
            candidates.add(f"2.25.{number}")
        candidates.add(pseudonyms._token(digest, pseudonyms._ALNUM, 16))
        candidates.add(digest.hex()[:16].upper())
    return candidates


@pytest.mark.parametrize("original", ["Doe^John", "1.2.840.10008.1", "PAT0001"])
def test_unkeyed_hashes_do_not_reproduce_pseudonyms(pz: Pseudonymizer, original: str) -> None:
    produced = {pz.uid(original), pz.text(original, "LO"), pz.patient_id(original)}
    assert not produced & unkeyed_candidates(original)


def test_same_derivation_with_an_empty_or_other_key_differs(pz: Pseudonymizer) -> None:
    impostor = Pseudonymizer("placeholder")
    for fake_key in (b"", b"other key", KEY.encode()[:-1]):
        impostor._mac = hmac.new(fake_key, digestmod=hashlib.sha256)
        for original in SAMPLES[:4]:
            assert impostor.uid(original) != pz.uid(original)
            assert impostor.text(original, "LO") != pz.text(original, "LO")


def test_key_never_shown(pz: Pseudonymizer) -> None:
    text = repr(pz) + str(pz) + f"{pz}" + pz.key_fingerprint
    assert KEY not in text and "correct horse" not in text
    assert "<hidden>" in repr(pz) and "uid_root='2.25.'" in repr(pz)
    produced = json.dumps(outputs(pz))
    assert KEY not in produced and KEY.encode().hex() not in produced
    binary = Pseudonymizer(b"\x01\x02secretbytes")
    assert "secretbytes" not in repr(binary)


# -- keys and configuration -------------------------------------------------------------------


def test_no_key_warns_and_does_not_link() -> None:
    with pytest.warns(UnlinkableOutputWarning, match="will not match"):
        first = Pseudonymizer()
    with pytest.warns(UnlinkableOutputWarning):
        second = Pseudonymizer()
    assert first.is_ephemeral and "<ephemeral>" in repr(first)
    assert first.uid("1.2.3") != second.uid("1.2.3")
    assert not Pseudonymizer(KEY).is_ephemeral


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch, pz: Pseudonymizer) -> None:
    monkeypatch.setenv(KEY_ENV_VAR, KEY)
    from_env = Pseudonymizer.from_env(uid_root="1.2.3.")
    assert not from_env.is_ephemeral and from_env.uid_root == "1.2.3."
    assert from_env.text("x1y2", "LO") == pz.text("x1y2", "LO")
    monkeypatch.setenv(KEY_ENV_VAR, "")
    with pytest.raises(ConfigurationError):
        Pseudonymizer.from_env()
    monkeypatch.delenv(KEY_ENV_VAR)
    with pytest.warns(UnlinkableOutputWarning):
        assert Pseudonymizer.from_env().is_ephemeral


def test_key_from_file(tmp_path: Path, pz: Pseudonymizer) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    assert outputs(Pseudonymizer.from_key_file(key_file)) == outputs(pz)
    key_file.write_text("\n")
    with pytest.raises(ConfigurationError, match="empty"):
        Pseudonymizer.from_key_file(key_file)
    with pytest.raises(ConfigurationError):
        Pseudonymizer.from_key_file(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": ""},
        {"key": b""},
        {"key": 12345},
        {"key": KEY, "uid_root": "2.25"},
        {"key": KEY, "uid_root": "1.02."},
        {"key": KEY, "uid_root": "1..2."},
        {"key": KEY, "uid_root": "a.b."},
        {"key": KEY, "uid_root": "1." * 21},
        {"key": KEY, "date_shift_days": (10, -10)},
        {"key": KEY, "date_shift_days": (1.5, 3)},
        {"key": KEY, "date_shift_days": (1, 2, 3)},
    ],
)
def test_invalid_configuration(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        Pseudonymizer(**kwargs)  # type: ignore[arg-type]


# -- names ------------------------------------------------------------------------------------


def test_person_name_normalisation(pz: Pseudonymizer) -> None:
    same = {pz.person_name(v) for v in ("DOE^JOHN", "Doe^John", "DOE^JOHN^^", " doe ^ john ")}
    assert len(same) == 1
    assert pz.person_name("DOE^JANE") not in same
    assert pz.person_name("DOE^JOHN=ドウ^ジョン") not in same
    new = same.pop()
    assert re.fullmatch(r"[A-Z]{10}\^[A-Z]{8}", new)


# -- dates ------------------------------------------------------------------------------------


def test_default_shift_range_is_documented_past() -> None:
    assert DEFAULT_DATE_SHIFT_DAYS == (-3650, -365)


@FAST
@given(
    st.text(max_size=20),
    st.tuples(st.integers(-5000, 5000), st.integers(0, 400)).map(lambda t: (t[0], t[0] + t[1])),
)
def test_date_shift_in_range_and_stable(patient: str, bounds: tuple[int, int]) -> None:
    p = Pseudonymizer(KEY, date_shift_days=bounds)
    days = p.date_shift_days(patient)
    assert bounds[0] <= days <= bounds[1]
    assert (
        p.date_shift_days(patient)
        == days
        == pickle.loads(pickle.dumps(p)).date_shift_days(patient)
    )


def test_shifts_spread_over_the_range(pz: Pseudonymizer) -> None:
    shifts = [pz.date_shift_days(f"PAT{i}") for i in range(500)]
    assert all(-3650 <= d <= -365 for d in shifts)
    assert len(set(shifts)) > 400


def test_three_studies_over_five_years_keep_their_intervals(pz: Pseudonymizer) -> None:
    studies = ["20160228", "20180301", "20201231"]  # crosses a leap day and year ends
    days = pz.date_shift_days("PAT-7", "HOSP")
    assert pz.date_shift_days("PAT-7", "HOSP") == days
    shifted = [pz.shift_date(s, days) for s in studies]

    def parse(v: str) -> datetime.date:
        return datetime.datetime.strptime(v, "%Y%m%d").date()

    before = [(parse(b) - parse(a)).days for a, b in itertools.pairwise(studies)]
    after = [(parse(b) - parse(a)).days for a, b in itertools.pairwise(shifted)]
    assert before == after
    assert all((parse(s) - parse(o)).days == days for s, o in zip(shifted, studies, strict=True))


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20200229", 1, "20200301"),
        ("20200301", -1, "20200229"),
        ("20190301", -1, "20190228"),
        ("20200229", -366, "20190228"),
        ("20210101", -1, "20201231"),
        ("20201231", 1, "20210101"),
        ("20200131", 30, "20200301"),
        ("20200115", -365 * 3, "20170115"),
        ("2020", -10, "2020"),  # year read as 1 July: a short shift keeps the year
        ("2020", -200, "2019"),
        ("202003", -10, "202003"),  # month read as the 15th
        ("202003", -20, "202002"),
        ("1999.12.31", 1, "20000101"),  # ACR-NEMA form, written back as YYYYMMDD
        ("20200101\\20200102", -1, "20191231\\20200101"),
        ("20200101\\\\2020", -1, "20191231\\\\2020"),
        ("20200101-20200131", 1, "20200102-20200201"),
        ("-20200131", 1, "-20200201"),
        ("20200101 ", 1, "20200102"),
        ("", 5, ""),
        ("  ", 5, ""),
    ],
)
def test_shift_date(pz: Pseudonymizer, value: str, days: int, expected: str) -> None:
    assert pz.shift_date(value, days) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2020013",
        "20201301",
        "20200230",
        "00000101",
        "2020-01-01-02",
        "-",
        "abc",
        "2020/01/01",
        "20200101T",
        "202001011200",
    ],
)
def test_unparseable_date_raises_value_error(pz: Pseudonymizer, value: str) -> None:
    with pytest.raises(ValueError) as info:
        pz.shift_date(value, 1)
    assert value not in str(info.value) or len(value) < 3  # values are PHI


def test_shift_leaving_the_calendar_raises_value_error(pz: Pseudonymizer) -> None:
    with pytest.raises(ValueError):
        pz.shift_date("00010105", -10)


@FAST
@given(st.dates(datetime.date(1800, 1, 1), datetime.date(2200, 12, 31)), st.integers(-4000, 4000))
def test_full_date_shift_is_exact(day: datetime.date, days: int) -> None:
    shifted = Pseudonymizer(KEY).shift_date(day.strftime("%Y%m%d"), days)
    assert shifted == (day + datetime.timedelta(days=days)).strftime("%Y%m%d")


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20200229123000.123456+0100", 1, "20200301123000.123456+0100"),
        ("20201231235959-0500", 1, "20210101235959-0500"),
        ("20200301000000.5", -1, "20200229000000.5"),
        ("2020030112", -1, "2020022912"),
        ("202003011230", -1, "202002291230"),
        ("20200301", -1, "20200229"),
        ("202003", -20, "202002"),
        ("2020", -10, "2020"),
        ("2020+0000", -200, "2019+0000"),
        ("20200101120000\\20210101", 1, "20200102120000\\20210102"),
        ("20200101120060", 0, "20200101120060"),  # leap second
        ("", 3, ""),
    ],
)
def test_shift_datetime(pz: Pseudonymizer, value: str, days: int, expected: str) -> None:
    assert pz.shift_datetime(value, days) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2020010124",
        "202001011260",
        "20200101.5",
        "20200101+2500",
        "2020010112+01",
        "x",
        "20200101120000.1234567",
        "20201301",
    ],
)
def test_unparseable_datetime_raises_value_error(pz: Pseudonymizer, value: str) -> None:
    with pytest.raises(ValueError):
        pz.shift_datetime(value, 1)


# -- crosswalk --------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_crosswalk_long_format_overrides(tmp_path: Path) -> None:
    table = write(
        tmp_path / "cw.csv",
        "kind,original,pseudonym\n"
        "patient_id,PAT1,MIDI_001\n"
        "patient_name,PAT1,MIDI^ONE\n"
        "uid, 1.2.3.4 ,1.2.999.1\n"
        "\n"
        "patient_id,PAT1,MIDI_001\n",  # an identical repeat is fine
    )
    crosswalk = Crosswalk.from_csv(table)
    assert len(crosswalk) == 3 and repr(crosswalk) == (
        "Crosswalk(uids=1, patient_ids=1, patient_names=1)"
    )
    recorder = MappingRecorder()
    p = Pseudonymizer(KEY, crosswalk=crosswalk, recorder=recorder)
    assert p.uid("1.2.3.4") == "1.2.999.1"
    assert p.uid("1.2.3.5").startswith("2.25.")
    assert p.patient_id("PAT1") == "MIDI_001"
    assert p.patient_id("PAT2") == Pseudonymizer(KEY).patient_id("PAT2")
    assert p.person_name("Doe^John", patient_id="PAT1") == "MIDI^ONE"
    assert p.person_name("Doe^John") == Pseudonymizer(KEY).person_name("Doe^John")
    assert ("uid", "1.2.3.4", "1.2.999.1") in recorder.entries()
    assert ("name", "Doe^John", "MIDI^ONE") in recorder.entries()


def test_crosswalk_patient_format_with_bom(tmp_path: Path) -> None:
    table = tmp_path / "patients.csv"
    table.write_bytes(
        "\ufefforiginal_patient_id,new_patient_id,new_patient_name\r\n"
        "A1,N1,NEW^ONE\r\nA2,N2,\r\nA3,N3\r\n".encode()
    )
    crosswalk = Crosswalk.from_csv(table)
    assert crosswalk.patient_id("A1") == "N1" and crosswalk.patient_name("A1") == "NEW^ONE"
    assert crosswalk.patient_id("A3") == "N3" and crosswalk.patient_name("A2") is None
    assert crosswalk.uid("A1") is None
    assert pickle.loads(pickle.dumps(crosswalk)).patient_id("A2") == "N2"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("kind,original,pseudonym\nuid,1.2.3,1.02.3\n", "line 2.*valid UID"),
        ("kind,original,pseudonym\nuid,1.2.3,2.25.1\nuid,1.2.3,2.25.2\n", "line 3.*line 2"),
        ("kind,original,pseudonym\nuid,1.2.3,2.25.1\nuid,1.2.4,2.25.1\n", "line 3.*reuses"),
        ("kind,original,pseudonym\npatient_id,P,A\\B\n", "line 2.*backslash"),
        ("kind,original,pseudonym\npatient_id,P," + "X" * 65 + "\n", "line 2.*64"),
        ("kind,original,pseudonym\nstudy,P,Q\n", "line 2.*kind"),
        ("kind,original,pseudonym\npatient_id,,Q\n", "line 2.*empty"),
        ("original_patient_id,new_patient_id\nA,B\nA,C\n", "line 3.*line 2"),
        ("id,new\nA,B\n", "header"),
        ("", "header"),
    ],
)
def test_crosswalk_validation(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Crosswalk.from_csv(write(tmp_path / "cw.csv", text))


def test_crosswalk_missing_file_and_direct_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Crosswalk.from_csv(tmp_path / "missing.csv")
    with pytest.raises(ConfigurationError, match="valid UID"):
        Crosswalk(uids={"1.2.3": "not-a-uid"})
    assert Crosswalk(patient_ids={"A": "B"}).patient_id(" A ") == "B"


# -- mapping recorder -------------------------------------------------------------------------


def recorded(pz: Pseudonymizer) -> MappingRecorder:
    recorder = MappingRecorder()
    p = Pseudonymizer(KEY, recorder=recorder)
    p.uid("1.2.3")
    p.uid("1.2.3")
    p.text("ACC1", "SH")
    p.person_name("Doe^Jöhn")
    p.patient_id("PAT1", "HOSP")
    p.date_shift_days("PAT1", "HOSP")
    p.text("", "LO")  # empty: nothing recorded
    return recorder


def test_recorder_collects_every_kind(pz: Pseudonymizer) -> None:
    entries = recorded(pz).entries()
    assert [e[0] for e in entries] == ["date_shift", "name", "patient_id", "text", "uid"]
    assert ("uid", "1.2.3", pz.uid("1.2.3")) in entries
    assert ("date_shift", "PAT1\\HOSP", str(pz.date_shift_days("PAT1", "HOSP"))) in entries
    assert "entries" in repr(recorded(pz)) and "PAT1" not in repr(recorded(pz))


def test_recorders_from_workers_merge(pz: Pseudonymizer) -> None:
    worker_a = pickle.loads(pickle.dumps(Pseudonymizer(KEY, recorder=MappingRecorder())))
    worker_b = pickle.loads(pickle.dumps(worker_a))
    worker_a.uid("1.1")
    worker_b.uid("2.2")
    worker_b.uid("1.1")
    assert worker_a.recorder is not None and worker_b.recorder is not None
    combined = MappingRecorder()
    combined.merge(pickle.loads(pickle.dumps(worker_a.recorder)))
    combined.merge(worker_b.recorder.entries())
    assert combined.entries() == [("uid", "1.1", pz.uid("1.1")), ("uid", "2.2", pz.uid("2.2"))]


def test_merge_returns_the_new_entries_only() -> None:
    recorder = MappingRecorder([("uid", "1.1", "2.25.1")])
    added = recorder.merge(
        [("uid", "1.1", "2.25.1"), ("uid", "1.2", "2.25.2"), ("uid", "1.2", "2.25.2")]
    )
    assert added == [("uid", "1.2", "2.25.2")] and len(recorder) == 2
    assert recorder.merge(MappingRecorder([("uid", "1.1", "2.25.1")])) == []
