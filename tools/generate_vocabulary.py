"""Generate ``src/idiscore/data/vocabulary.txt``, the allow-list used to clean descriptors.

The vocabulary is the set of words that :func:`idiscore.cleaning.clean_text` may keep when it
cleans free text (PS3.15 "C" action, Clean Descriptors Option). It is built from:

1. the code meanings of selected DICOM PS3.16 context groups (CIDs), as shipped with pydicom in
   ``pydicom.sr._concepts_dict`` (SNOMED CT, DCM, RadLex, UCUM ... concepts, each with the list
   of CIDs it belongs to). Meanings are split into words; alphabetic words of two letters or
   more are kept, upper-cased;
2. the code values of the modality CIDs (``CT``, ``MR``, ``PT`` ...) and the alphabetic parts
   of the UCUM unit codes (``mm``, ``Bq``, ``Gy`` ...);
3. a curated list of imaging abbreviations (sequence and protocol names, orientations,
   vendor acronyms, radiotherapy volumes and techniques) that no context group contains.

Words that look like personal names are left out, because they could be the name of a person
in a free-text field: a word is treated as a proper name when, in the SNOMED CT meanings (which
are written in sentence case), it is capitalised in the middle of a meaning and never appears
in lower case in any meaning of any scheme, or when it is used as a possessive ("Meckel's").
Such eponyms (Willis, Trendelenburg, Valsalva ...) are dropped unless a whole concept meaning
consists of that single word or the curated list names it. Month and weekday names are never
included (they are parts of dates), nor are a few words that are common personal names.

The output is deterministic: it depends only on the installed pydicom version (recorded in
the header) and on this file. Run::

    .venv/bin/python tools/generate_vocabulary.py          # write the file
    .venv/bin/python tools/generate_vocabulary.py --check  # exit 1 if the file is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import pydicom
from pydicom.sr._cid_dict import name_for_cid
from pydicom.sr._concepts_dict import concepts as _concepts

# scheme -> keyword -> code value -> (meaning, CIDs)
Concepts = dict[str, dict[str, dict[str, tuple[str, list[int]]]]]
concepts = cast(Concepts, _concepts)

OUTPUT = Path(__file__).resolve().parent.parent / "src" / "idiscore" / "data" / "vocabulary.txt"

# Context groups whose code meanings are imaging or anatomy vocabulary, by theme.
CIDS: dict[str, tuple[int, ...]] = {
    "anatomy": (
        2,
        4,
        3010,
        3630,
        3827,
        4009,
        4028,
        4030,
        4031,
        4040,
        4042,
        6300,
        7140,
        7192,
        7600,
        7602,
        7701,
        7702,
        7710,
        8134,
        12103,
    ),
    "laterality and modifiers": (212, 244, 245, 246, 247),
    "modalities": (29, 32, 33),
    "orientation, views and planes": (
        19,
        20,
        27,
        92,
        501,
        502,
        4010,
        4011,
        4014,
        4015,
        6312,
        7302,
        12226,
    ),
    "contrast agents and radiopharmaceuticals": (12, 13, 18, 25, 62, 3850, 4021, 12030, 10014),
    "MR acquisition and signal": (6311, 6316, 6349, 7260, 7270, 7271, 7272, 7273),
    "CT and X-ray acquisition": (10013, 10030, 10033),
    "procedures and phases": (100, 3108, 3207, 3428, 12233),
    "tissue": (7166,),
    "units": (83, 84, 85, 7181, 7456, 7460, 7461, 7462),
    "departments": (7030,),
}

# Code values (not meanings) of these CIDs are the abbreviations used in descriptions.
CODE_VALUE_CIDS = (29, 32, 33)

# Imaging abbreviations and terms that no context group lists. Not a standard: the usual words
# of MR/CT/PET/XR series and protocol names across vendors.
CURATED = """
2D 3D 4D T1 T2 T1W T2W T2STAR PDW B0 B1 FS FAT SAT FATSAT WATER IN OPP INPHASE OPPHASE OUTPHASE
A B C D F H I L O P R S T W X Y Z
AX AXI AXIAL COR CORO CORONAL SAG SAGITTAL TRA TRANS TRANSVERSE OBL OBLI OBLIQUE ORTH
AP PA LAT LATERAL LL RL LR RLAT LLAT DECUB SUPINE PRONE HFS HFP FFS FFP LAO RAO LPO RPO
CC MLO ML XCCL SIO ISO
FLAIR DWI DTI DSI ADC EADC TRACE TRACEW SWI SWAN SWIP TOF PC MRA MRV CTA CTV CTP MRCP MRS
MPRAGE MP2RAGE SPACE VIBE HASTE TSE FSE SE GRE EPI BOLD PD STIR TIRM SPIR SPAIR SPECIAL
FFE TFE TFL FL FL2D FL3D EP2D EP3D EP SSFP BSSFP FIESTA TRUFI FISP PSIF CISS DESS FLASH SPGR
BRAVO CUBE VISTA DIXON IDEAL MDIXON QDIXON VIEWS CINE FLOW VENC PERF PERFUSION DSC DCE ASL
PCASL PASL SVS CSI PRESS STEAM RESOLVE BLADE PROPELLER MULTIVANE SEMAC MAVRIC WARP RADIAL
STARVIBE TWIST TRICKS TWIST GRASP MOCO ND NORM DIS2D DIS3D DIFF DIFFUSION TENSOR TRACT
FIBER FIBRE TRACTOGRAPHY FMRI RESTING STATE TASK SWE MT MTC DIR PSIR MOLLI SHMOLLI T1MAP
T2MAP T2STAR MAPPING LGE DE LATE EARLY DELAY DELAYED DYN DYNAMIC BH FB NAV RT RESP TRIG
ECG EKG GATED GATING TRIGGERED NONGATED PROSPECTIVE RETROSPECTIVE HELICAL SPIRAL SEQUENTIAL
TOPOGRAM SCANOGRAM SURVIEW SCOUT LOCALIZER LOCALISER LOC PILOT SURVEY TRIPLANE PLANE
CT MR MRI PET PETCT PETMR SPECT NM US XR CR DX MG XA RF OT SC SR KO PR SEG REG RTSTRUCT
SUV SUVBW SUVLBM SUVBSA FDG PSMA DOTATATE AMYLOID TAU
W WO WWO WITH WITHOUT AND OR OF THE TO FOR IN ON AT BY NO NON PRE POST MID
C CONTRAST CONTR NONCONTRAST NONCON NC CE IV ORAL GD GAD GADO GADOLINIUM IODINE BOLUS
TRACKING TEST TIMING ARTERIAL VENOUS PORTAL PORTALVENOUS NEPHROGRAPHIC EXCRETORY EQUILIBRIUM
ANGIO ANGIOGRAPHY VENOGRAPHY UROGRAPHY ENTEROGRAPHY COLONOGRAPHY ARTHROGRAPHY MYELOGRAPHY
ROUTINE STANDARD PROTOCOL EXAM EXAMINATION STUDY SERIES IMAGE IMAGES SCAN SCANS SLICE SLICES
THIN THICK THICKNESS ISO ISOTROPIC HR HIGH LOW RES RESOLUTION FAST SLOW QUICK SHORT LONG
MPR MIP MINIP VR VRT MAXIP AVG AVERAGE SUM SUB SUBTRACTION SUBTRACTED RECON RECONSTRUCTION
REFORMAT REFORMATS REFORMATTED RFMT PROJ PROJECTED PROJECTION COLLECTION DERIVED PRIMARY
SECONDARY ORIGINAL MAP MAPS KERNEL FILTER SHARP SMOOTH SOFT DETAIL EDGE BONE LUNG
MEDIASTINUM MEDIASTINAL WINDOW BRAIN STROKE TRAUMA ONCO ONCOLOGY SCREENING FOLLOWUP
IDOSE ASIR ASIRV ADMIRE SAFIRE IRIS IMR AIDR DLR TRUEFIDELITY FBP IR OSEM PSF TOFPSF
AC NAC CTAC ATTN ATTENUATION CORRECTED UNCORRECTED CALIBRATED NORMALIZED
HCT CTDI CTDIVOL DLP DOSE REPORT KV KVP MA MAS SEC MS MM CM UM TESLA
LOWDOSE LDCT HRCT CALCIUM SCORE SCORING SMARTSCORE CORONARY CARDIAC CARDIO HEART
ABD ABDO ABDOMEN PELV PELVIS CAP TAP CHEST THORAX THOR HEAD NECK SPINE CSPINE TSPINE LSPINE
SSPINE CTSPINE TLSPINE LSSPINE WHOLEBODY WB EXTREMITY EXTREMITIES UPPER LOWER LIMB LIMBS
IAC IACS ORBIT ORBITS SINUS SINUSES TMJ PITUITARY SELLA FACE FACIAL TEMPORAL PETROUS
CAROTID CAROTIDS COW AORTA AORTIC RUNOFF PE LIVER HCC RENAL KIDNEY KIDNEYS PANCREAS
PROSTATE BREAST BREASTS KNEE HIP SHOULDER ANKLE WRIST ELBOW FOOT HAND FEMUR TIBIA
BILAT BILATERAL LEFT RIGHT LT RT BOTH UNILAT
LV RV LA RA LVOT RVOT SAX LAX 2CH 3CH 4CH CH
LESION LESIONS MARKED MASS NODULE NODULES TUMOR TUMOUR METS METASTASES
PHANTOM QA QC CALIBRATION UNIFORMITY
SEGMENTATION LABEL LABELS ROI VOI CONTOUR CONTOURS STRUCTURE STRUCTURES
PLAIN VIEW PORTABLE ERECT STANDING WEIGHT BEARING FLEX FLEXION EXT EXTENSION
COMP MIN MAX MINUTE MINUTES HOUR HOURS
ADULT PEDIATRIC PAED PED PEDS CHILD INFANT NEONATAL NEONATE
JPEG LOSSY LOSSLESS REVERSIBLE IRREVERSIBLE UNCOMPRESSED COMPRESSED RLE JPEGLS
TR TE TI FA FOV NEX NSA ETL BW MATRIX PITCH GANTRY TILT INTERVAL INCREMENT COLLIMATION
MGY MSV MGYCM KEV MEV BPM MBQ GBQ MCI EFFECTIVE CTDIW SSDE DIRECTIONS MULTIPHASE PHASES
GRADE STAGE STEP STEPS ECHO ECHOES RUN RUNS ACQ IMG IM SER SL FRAME FRAMES CYCLE CYCLES
STRENGTH TABLET TABLETS DOSES FRACTIONS LEVELS PARTS RIBS SEQUENCE SEQUENCES VOL VOLUMES
CONCENTRATION POWER HRS MINS SECS HU KHZ MHZ UCI MM2 MM3 CM2 CM3 LAVA
STABLE UNCHANGED NEW INCREASED DECREASED INCREASING DECREASING IMPROVED WORSENED RESOLVED
ACUTE SUBACUTE CHRONIC MILD MODERATE SEVERE MINIMAL NORMAL ABNORMAL ABNORMALITY ABNORMALITIES
BENIGN MALIGNANT SUSPICIOUS INDETERMINATE PROBABLE POSSIBLE LIKELY UNLIKELY CONSISTENT
CONSOLIDATION EFFUSION ATELECTASIS PNEUMOTHORAX PNEUMONIA EMPHYSEMA FIBROSIS OPACITY
GROUNDGLASS NODULAR CYST CYSTS CYSTIC SOLID CALCIFIED CALCIFICATION CALCIFICATIONS
FRACTURE FRACTURES DISLOCATION HERNIATION PROTRUSION BULGE DEGENERATIVE CHANGES CHANGE
STENOSIS OCCLUSION ANEURYSM DISSECTION THROMBOSIS THROMBUS EMBOLISM EMBOLUS INFARCT
INFARCTION ISCHEMIA HEMORRHAGE HAEMORRHAGE HEMATOMA EDEMA OEDEMA MIDLINE SHIFT HYDROCEPHALUS
ENHANCEMENT ENHANCING NONENHANCING WASHOUT RESTRICTION DIAMETER SIZE VOLUME MEASURES
MEASURING MEASURED APPROXIMATELY SMALL LARGE ENLARGED DILATED THICKENING FOCAL DIFFUSE
MULTIPLE SINGLE SOLITARY SCATTERED INTRACRANIAL EXTRA INTRA SUBDURAL EPIDURAL SUBARACHNOID
HILAR PERIHILAR PLEURAL PERICARDIAL ASCITES LYMPHADENOPATHY ADENOPATHY METASTASIS
COMPARISON COMPARED PRIOR PREVIOUS FOLLOW FOLLOWUP REPEAT RECOMMENDED RECOMMEND
LIMITED INCOMPLETE COMPLETE NONDIAGNOSTIC DIAGNOSTIC QUALITY ARTIFACT ARTEFACT ARTIFACTS
METAL METALLIC PROSTHESIS IMPLANT HARDWARE STENT PACEMAKER CATHETER SEDATION ANESTHESIA
COMPLICATIONS COMPLICATION EXTRAVASATION ALLERGY ALLERGIC REACTION PREMEDICATION
FINDINGS IMPRESSION CONCLUSION HISTORY INDICATION TECHNIQUE RESULTS RESULT
DAYS WEEKS MONTHS YEARS DAY WEEK MONTH YEAR
GTV CTV PTV ITV IGTV PRV OAR OARS BOOST SIB IMRT VMAT IGRT SBRT SABR SRS SRT DRR CBCT MV GY CGY
EXTERNAL BODY COUCH RING ISOCENTER ISOCENTRE PLAN PLANNING BEAM BEAMS FIELD FIELDS ARC ARCS
AGATSTON SUVMAX SUVMEAN SUVPEAK KUB IVP DSA DOPPLER DUPLEX TRANSVAGINAL TRANSABDOMINAL
TRANSRECTAL ELASTOGRAPHY ECHOCARDIOGRAM ECHOCARDIOGRAPHY MAMMOGRAM MAMMOGRAPHY TOMOSYNTHESIS
BIRADS PIRADS LIRADS TIRADS LUNGRADS BIOPSY GUIDED GUIDANCE AGE
"""

# Never part of the vocabulary: month and weekday names (and their abbreviations) are parts
# of dates; labels of identifiers; eponyms and personal names that the capitalisation test
# misses (they start a meaning, or come from title-case DCM/UCUM meanings), and words of little
# imaging value that are common surnames. Clinically important words that are also surnames
# (HEAD, LONG, SHORT, WHITE, GRAY, RING, ...) are kept on purpose.
EXCLUDED = """
JANUARY FEBRUARY MARCH APRIL MAY JUNE JULY AUGUST SEPTEMBER OCTOBER NOVEMBER DECEMBER
JAN FEB MAR APR JUN JUL AUG SEP SEPT OCT NOV DEC
MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY SUNDAY
MON TUE TUES WED THU THUR THURS FRI SAT SUN
ID MRN DOB SSN
JAMES JANMA ROSE BENGAL PITTSBURGH WOOD GIACOMINI HUNTERIAN COUINAUD PURKINJE TRENDELENBURG
LITTLE GOLD
"""

WORD_RE = re.compile(r"[A-Za-z]+(?:'s)?")


def _all_meanings() -> Iterator[tuple[str, str, str, list[int]]]:
    """(scheme, code value, meaning, cids) for every concept pydicom ships."""
    for scheme in sorted(concepts):
        for keyword in sorted(concepts[scheme]):
            codes = concepts[scheme][keyword]
            for code in sorted(codes):
                meaning, cids = codes[code]
                yield scheme, code, meaning, list(cids)


def _proper_names() -> frozenset[str]:
    """Words that behave like personal or place names in the concept meanings."""
    seen_lower: set[str] = set()
    capitalised_inside: set[str] = set()
    possessive: set[str] = set()
    for scheme, _code, meaning, _cids in _all_meanings():
        for position, word in enumerate(WORD_RE.findall(meaning)):
            base = word[:-2] if word.endswith("'s") else word
            upper = base.upper()
            if word.endswith("'s"):
                possessive.add(upper)
            if base.islower():
                seen_lower.add(upper)
            elif (
                scheme == "SCT"
                and position > 0
                and base[0].isupper()
                and (len(base) == 1 or base[1:].islower())
            ):
                capitalised_inside.add(upper)
    return frozenset((capitalised_inside | possessive) - seen_lower)


def _words(text: str) -> Iterator[str]:
    for word in WORD_RE.findall(text):
        base = word[:-2] if word.endswith("'s") else word
        if len(base) >= 2:
            yield base.upper()


def _split(block: str) -> list[str]:
    return [word.upper() for word in block.split()]


def build() -> tuple[list[str], list[str]]:
    """Return (header lines, sorted words)."""
    selected = {cid for group in CIDS.values() for cid in group}
    proper = _proper_names()
    excluded = set(_split(EXCLUDED))
    curated = set(_split(CURATED))

    words: set[str] = set()
    single_word_meanings: set[str] = set()
    for scheme, code, meaning, cids in _all_meanings():
        in_selection = any(cid in selected for cid in cids) or scheme == "UCUM"
        if not in_selection:
            continue
        meaning_words = list(_words(meaning))
        if len(meaning_words) == 1:
            single_word_meanings.add(meaning_words[0])
        words.update(meaning_words)
        if scheme == "UCUM" or any(cid in CODE_VALUE_CIDS for cid in cids):
            words.update(_code_words(code))

    eponyms = {w for w in words if w in proper and w not in single_word_meanings}
    words -= eponyms
    words |= curated
    words -= excluded

    header = [
        "# idiscore vocabulary: words descriptor cleaning may keep, one per line, upper case.",
        "# Generated by tools/generate_vocabulary.py -- do not edit by hand.",
        f"# Source: code meanings of DICOM PS3.16 context groups as shipped with pydicom "
        f"{pydicom.__version__}",
        "# (pydicom.sr._concepts_dict); UCUM unit codes and meanings; a curated list of imaging",
        "# abbreviations kept in the generator. Eponyms and other proper names, month and",
        "# weekday names are excluded.",
        "# Context groups used:",
    ]
    for theme, theme_cids in CIDS.items():
        header.append(f"#   {theme}:")
        for cid in sorted(theme_cids):
            header.append(f"#     CID {cid} {name_for_cid.get(cid, '?')}")
    header.append(f"# Proper names removed: {len(eponyms)}; words: {len(words)}")
    return header, sorted(words)


def _code_words(code: str) -> Iterable[str]:
    """Alphabetic parts of a code value (``CT``, ``mm`` from ``mm3``, ``Bq`` from ``Bq/ml``)."""
    return (part.upper() for part in re.findall(r"[A-Za-z]+", code) if len(part) >= 2)


def render() -> str:
    header, words = build()
    return "\n".join([*header, *words]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
