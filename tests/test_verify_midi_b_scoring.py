"""MIDI-B scoring: an answer key built here, one expected pass and one fail per action,
scored against a real de-identification run (mapping files written by the CLI)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from verify_corpus import INSTITUTION, PATIENT_ID, STUDY_UID, write_planted

from idiscore.cli import main
from idiscore.verify.midib import (
    ACTIONS,
    category_of,
    load_mappings,
    originals_by_instance,
    read_answer_key,
    score_outputs,
)

#: the default options, with Patient IDs replaced by pseudonyms (as MIDI-B asks)
MIDI_B_PROFILE = """
name = "MIDI-B test profile"
rule_sets = ["basic_profile", "clean_descriptors", "retain_patient_characteristics",
             "retain_device_id", "retain_safe_private", "site"]

[[rules]]
rule_set = "site"
tag = "PatientID"
operator = "Hash"
"""
FIRST = "1.2.826.0.1.3680043.8.498.7003.1"
SECOND = "1.2.826.0.1.3680043.8.498.7003.2"
MISSING = "1.2.826.0.1.3680043.8.498.7003.99"
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"


def check(action: str, tag: str, value: str = "", text: str = "", **categories: str) -> dict:
    entry = {"action": f"<{action}>", "tag": f"<{tag}>", "value": f"<{value}>"}
    entry["action_text"] = f"<{text}>"
    entry.update({key: f"<{value}>" for key, value in categories.items()})
    return entry


def answer_rows(pixel_md5: str) -> list[tuple[str, list[dict]]]:
    """(original SOP Instance UID, checks): the first check of each action passes on the
    default profile's output, the second fails."""
    box_blank = json.dumps({"text": "DOE", "top_left": [0, 0], "bottom_right": [4, 4]})
    box_text = json.dumps({"text": "DOE", "top_left": [4, 4], "bottom_right": [8, 8]})
    iod = {"dicom_iod": "CT-IOD"}
    first = [
        check("tag_retained", "(0008,0060)", **iod),
        check("tag_retained", "(0008,0080)", **iod),
        check("text_notnull", "(0008,0060)", **iod),
        check("text_notnull", "(0008,0080)", **iod),
        check("text_retained", "(0008,0060)", text="CT", tcia_p15="TCIA-P15-K"),
        check("text_retained", "(0008,0080)", text=INSTITUTION, tcia_p15="TCIA-P15-K"),
        check("text_removed", "(0008,0080)", text=INSTITUTION, hipaa_z="HIPAA-Z"),
        check("text_removed", "(0008,0060)", text="CT", hipaa_z="HIPAA-Z"),
        check("date_shifted", "(0010,0030)", value="19610301"),
        check("date_shifted", "(0008,0060)", value="CT"),
        check("uid_changed", "(0020,000D)", value=STUDY_UID),
        check("uid_changed", "(0008,0016)", value=CT_CLASS),
        check("uid_consistent", "(0020,000D)", value=STUDY_UID),
        check("uid_consistent", "(0020,000E)", value=STUDY_UID),
        check("patid_consistent", "(0010,0020)", value=PATIENT_ID),
        check("patid_consistent", "(0010,0020)", value="SOMEONE-ELSE"),
        check("pixels_retained", "(7FE0,0010)", text=pixel_md5),
        check("pixels_retained", "(7FE0,0010)", text="0" * 32),
    ]
    second = [
        check("pixels_hidden", "(7FE0,0010)", text=box_blank),
        check("pixels_hidden", "(7FE0,0010)", text=box_text),
    ]
    missing = [
        check("text_removed", "(0008,0080)", text=INSTITUTION, hipaa_z="HIPAA-Z"),  # pass
        check("tag_retained", "(0008,0060)", **iod),  # fail: the instance is missing
    ]
    return [(FIRST, first), (SECOND, second), (MISSING, missing)]


def write_answer_key(path: Path, rows: list[tuple[str, list[dict]]]) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE answer_data (SOPInstanceUID TEXT, AnswerData TEXT)")
    for uid, checks in rows:
        data = json.dumps({str(i): entry for i, entry in enumerate(checks)})
        connection.execute("INSERT INTO answer_data VALUES (?, ?)", (f"<{uid}>", data))
    connection.commit()
    connection.close()
    return path


@pytest.fixture
def run(tmp_path: Path) -> Path:
    paths = write_planted(tmp_path / "in", "explicit-undefined")
    ds = pydicom.dcmread(paths[1])  # the second image: a blank top-left corner
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8) + 1
    pixels[:4, :4] = 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(paths[1])
    profile = tmp_path / "midi-b.toml"
    profile.write_text(MIDI_B_PROFILE)
    key = tmp_path / "site.key"
    key.write_bytes(b"midi-b test key")
    (tmp_path / "secure").mkdir()
    result = CliRunner().invoke(
        main,
        ["deidentify", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--key-file",
         str(key), "--workers", "1", "--mapping", str(tmp_path / "secure" / "map.csv"),
         "--midi-b-mapping", "-q", "--profile", str(profile)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return tmp_path


def pixel_md5(path: Path) -> str:
    return hashlib.md5(pydicom.dcmread(path).PixelData).hexdigest()


def test_mapping_files_are_written(run: Path) -> None:
    uids, patids = load_mappings(run / "secure" / "uid_mapping.csv")
    assert STUDY_UID in uids and uids[STUDY_UID] != STUDY_UID
    assert list(patids) == [PATIENT_ID]
    assert (run / "secure" / "uid_mapping.csv").read_text().startswith("id_old,id_new\n")
    assert (load_mappings(run / "secure" / "map.csv")) == (uids, patids)
    out = pydicom.dcmread(run / "out" / "image1.dcm")
    assert out.StudyInstanceUID == uids[STUDY_UID]
    assert out.PatientID == patids[PATIENT_ID]


def test_every_action_scores_one_pass_and_one_fail(run: Path) -> None:
    rows = answer_rows(pixel_md5(run / "in" / "image1.dcm"))
    checks = read_answer_key(write_answer_key(run / "answers.db", rows))
    assert {c.action for c in checks} == set(ACTIONS)
    uids, patids = load_mappings(run / "secure" / "uid_mapping.csv")
    score = score_outputs(checks, run / "out", uids, patids, originals_by_instance(run / "in"))
    assert score.by_action == {action: [1, 2] for action in ACTIONS} | {
        "tag_retained": [1, 3],
        "text_removed": [2, 3],
    }
    assert score.overall == (11, 22)
    assert {(c, s): (p, n) for c, s, p, n in score.categories()} == {
        ("dicom", "CT-IOD"): (2, 5),
        ("dicom", "DICOM-P15-BASIC-C"): (1, 2),
        ("dicom", "DICOM-P15-BASIC-U"): (1, 2),
        ("hipaa", "HIPAA-A"): (1, 2),
        ("hipaa", "HIPAA-C"): (1, 2),
        ("hipaa", "HIPAA-R"): (1, 2),
        ("hipaa", "HIPAA-Z"): (2, 3),
        ("tcia", "TCIA-P15-K"): (1, 2),
        ("tcia", "TCIA-P15-PIX-K"): (1, 2),
    }


def test_cli_prints_the_categories(run: Path) -> None:
    rows = answer_rows(pixel_md5(run / "in" / "image1.dcm"))
    key = write_answer_key(run / "answers.db", rows)
    result = CliRunner().invoke(
        main,
        ["verify", str(run / "in"), str(run / "out"), "--no-dciodvfy", "--workers", "1",
         "--answer-key", str(key), "--mapping", str(run / "secure" / "map.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "MIDI-B score" in result.output
    assert "HIPAA-Z" in result.output and "50.00%" in result.output
    result = CliRunner().invoke(
        main, ["verify", str(run / "in"), str(run / "out"), "--answer-key", str(key)]
    )
    assert result.exit_code == 2


def test_category_of_follows_the_columns() -> None:
    from idiscore.verify.midib import AnswerCheck

    def make(action: str, **columns: str) -> AnswerCheck:
        return AnswerCheck("1.2.3", action, ((0x00100020, None),),
                           categories=tuple(columns.items()))  # fmt: skip

    assert category_of(make("text_removed", hipaa_m="M", tcia_p15="P")) == ("hipaa", "M")
    assert category_of(make("text_removed", tcia_ptkb="K")) == ("tcia", "K")
    assert category_of(make("text_retained", hipaa_z="Z", tcia_rev="R")) == ("tcia", "R")
    assert category_of(make("uid_changed")) == ("hipaa", "HIPAA-R")
    assert category_of(make("text_notnull", dicom_iod="IOD")) == ("dicom", "IOD")


def test_a_broken_answer_key_is_a_configuration_error(tmp_path: Path) -> None:
    from idiscore.errors import ConfigurationError

    path = write_answer_key(tmp_path / "bad.db", [(FIRST, [])])
    sqlite3.connect(path).execute("UPDATE answer_data SET AnswerData = 'x'").connection.commit()
    with pytest.raises(ConfigurationError, match="row 1"):
        read_answer_key(path)
    (tmp_path / "none.db").write_bytes(b"not sqlite")
    with pytest.raises(ConfigurationError):
        read_answer_key(tmp_path / "none.db")
