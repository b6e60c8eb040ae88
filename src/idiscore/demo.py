"""``python -m idiscore.demo``: de-identify a few sample files with the real command line.

Builds an input folder from files bundled with pydicom (a CT, an MR, a JPEG 2000 MR, an
RT plan, a JPEG secondary capture without Burned In Annotation) plus a text file, an
encapsulated PDF and a truncated file, then runs ``idiscore deidentify`` on it: the
secondary capture is searched for burned-in text and cleaned (with ``idiscore[ocr]``;
without it the standard bouncers reject it), the PDF is rejected, the text file is skipped
and the truncated file fails. The results go to ``demo-output/`` in the current folder:

* ``demo-output/deidentified/`` -- the de-identified files (mirror layout);
* ``demo-output/quarantine/``   -- copies of the rejected and failed inputs;
* ``demo-output/report.jsonl``  -- one JSON line per input.

Without ``IDISCORE_KEY`` the demo uses a random key (and says so).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

__all__ = ["ENCAPSULATED_PDF_STORAGE", "build_demo_inputs", "encapsulated_pdf", "main"]

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
OUTPUT_FOLDER = "demo-output"
_MARKER = ".idiscore-demo"

#: (pydicom test file, where it goes in the demo input tree)
SAMPLES = (
    ("CT_small.dcm", "patient1/ct/CT_small.dcm"),
    ("MR_small.dcm", "patient2/mr/MR_small.dcm"),
    ("MR_small_jp2klossless.dcm", "patient2/mr-jpeg2000/MR_small_j2k.dcm"),
    ("SC_rgb_jpeg_dcmtk.dcm", "patient3/screenshot/SC_rgb_jpeg.dcm"),
    ("rtplan.dcm", "patient4/rtplan"),
)


def encapsulated_pdf(patient_name: str = "Doe^Jane", patient_id: str = "PDF-0001") -> Dataset:
    """A small Encapsulated PDF dataset with file meta (identifying text inside the PDF)."""
    uid_root = "1.2.826.0.1.3680043.8.498.7777."
    ds = Dataset()
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    ds.SOPInstanceUID = uid_root + "1"
    ds.StudyInstanceUID = uid_root + "2"
    ds.SeriesInstanceUID = uid_root + "3"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.Modality = "DOC"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = b"%PDF-1.4\n% report for " + patient_name.encode() + b"\n%%EOF\n"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def build_demo_inputs(folder: Path) -> Path:
    """Fill ``folder`` with the demo inputs; return it."""
    from pydicom.data import get_testdata_file

    folder.mkdir(parents=True, exist_ok=True)
    for name, relative in SAMPLES:
        source = get_testdata_file(name)
        if source is None:  # pragma: no cover - bundled with pydicom
            continue
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(source), target)
    (folder / "notes").mkdir(exist_ok=True)
    (folder / "notes" / "README.txt").write_text("Not a DICOM file: skipped.\n")
    pdf = folder / "patient5" / "report.dcm"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    encapsulated_pdf().save_as(pdf, enforce_file_format=True)
    ct = get_testdata_file("CT_small.dcm")
    if ct is not None:
        (folder / "patient1" / "ct" / "truncated.dcm").write_bytes(
            Path(str(ct)).read_bytes()[:300]
        )
    return folder


def _prepare_output(output: Path) -> bool:
    """Empty an earlier demo's output; refuse to touch a folder the demo did not make."""
    if not output.exists():
        return True
    if (output / _MARKER).exists():
        shutil.rmtree(output)
        return True
    print(
        f"{output} exists and was not made by the demo; move it away and run again.",
        file=sys.stderr,
    )
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the demo; the exit code is 0 when the batch ran (whatever its file statuses)."""
    from idiscore.cli import main as cli

    output = Path.cwd() / OUTPUT_FOLDER
    if not _prepare_output(output):
        return 2
    with tempfile.TemporaryDirectory(prefix="idiscore-demo-") as temp:
        inputs = build_demo_inputs(Path(temp) / "input")
        count = sum(1 for path in inputs.rglob("*") if path.is_file())
        print(f"demo input: {count} sample files in {inputs}")
        output.mkdir()
        (output / _MARKER).write_text("made by python -m idiscore.demo\n")
        args = [
            "deidentify",
            str(inputs),
            "--output",
            str(output / "deidentified"),
            "--report",
            str(output / "report.jsonl"),
            "--quarantine",
            str(output / "quarantine"),
            "--workers",
            "1",
            "-v",
            *(argv or []),
        ]
        code = cli.main(args, prog_name="idiscore", standalone_mode=False)
    print(f"\nresults in {output}/ (deidentified/, quarantine/, report.jsonl)")
    return 0 if code in (0, 1, None) else int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
