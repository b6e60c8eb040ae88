"""Codes that identify (issue 13 §2): only standard codes with their standard meaning survive.

A code item (Code Value / Long Code Value / URN Code Value, Coding Scheme Designator,
Code Meaning) keeps its code only when pydicom's concept dictionaries know it with that
meaning; any other code becomes the dummy code (REMOVED, 99IDISCORE, REMOVED). Inside
the sequences that identify a person or an organisation no original code survives.
Checked on every path a code item can take: a sequence kept by the rules (the walker),
a sequence replaced by D (Replace, and X/Z/D resolved to D), nested deeper, content
items under Clean Structured Content, in explicit and implicit VR files, with defined
and undefined lengths, and in a private sequence.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from idiscore.core import Core, Profile
from idiscore.defaults import create_default_core, get_dicom_rule_sets
from idiscore.identifiers import PrivateBlockTagIdentifier, SingleTag
from idiscore.operators import Keep, Replace
from idiscore.operators.codes import (
    DUMMY_CODE,
    IDENTIFYING_SEQUENCES,
    is_standard_code,
    standard_codes,
)
from idiscore.rules import Rule, RuleSet
from idiscore.standard._tables import CID7050

from factories import assert_unchanged, roundtrip, snapshot, sop_dataset

UNKNOWN_SOP_CLASS = "1.2.826.0.1.3680043.8.498.999.1"

#: Standard codes with their standard meaning (one per shipped scheme family).
STANDARD = [
    ("113100", "DCM", "Basic Application Confidentiality Profile"),
    ("76752008", "SCT", "Breast"),
    ("T-04000", "SRT", "Breast"),  # legacy SNOMED-RT, mapped to SCT 76752008
    ("33072-0", "LN", "AC, ASUM 2000"),
    ("ms", "UCUM", "millisecond"),
    ("mm2", "UCUM", "mm2"),  # a meaning that repeats the value
    ("113100", "DCM", "basic  application confidentiality PROFILE"),  # case and spaces
]

#: Codes that must not survive, each holding the marker "JANE" or "4711".
LOCAL = [
    ("BADGE4711", "99HOSP", "Badge of JANE"),  # a private (99...) scheme
    ("4711", "L", "JANE SMITH"),  # the local scheme L
    ("113100", "DCM", "JANE SMITH"),  # a standard code with another meaning
    ("4711", "DCM", "Basic Application Confidentiality Profile"),  # unknown DCM value
    ("76752008", "ST MARY JANE", "Breast"),  # a site scheme
    ("113100\\4711", "DCM", "Basic Application Confidentiality Profile"),  # two values
]
MARKERS = ("JANE", "4711", "MARY", "99HOSP")

#: The three ways to hold a code's value.
VALUE_FIELDS = ("CodeValue", "LongCodeValue", "URNCodeValue")


def code_item(value: str, scheme: str, meaning: str, field: str = "CodeValue") -> Dataset:
    item = Dataset()
    if field == "URNCodeValue":
        value = f"urn:oid:{value}" if not value.startswith("urn:") else value
    setattr(item, field, value)
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def code_of(item: Dataset) -> tuple[str, str, str]:
    for field in VALUE_FIELDS:
        if field in item:
            return (str(item[field].value), item.CodingSchemeDesignator, item.CodeMeaning)
    raise AssertionError("no code value")


def dummy(field: str = "CodeValue") -> tuple[str, str, str]:
    value = "urn:idiscore:removed" if field == "URNCodeValue" else DUMMY_CODE[0]
    return (value, DUMMY_CODE[1], DUMMY_CODE[2])


def output_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def deidentify(core: Core, ds: Dataset) -> Dataset:
    before = snapshot(ds)
    out = core.deidentify(ds)
    assert_unchanged(ds, before)
    roundtrip(out)
    return out


def with_rules(*rules: Rule, sets: list[str] | None = None) -> Core:
    """The Basic Profile (and ``sets``) followed by ``rules``."""
    dicom = get_dicom_rule_sets()
    chosen = [dicom.basic_profile, *(dicom.by_name(name) for name in sets or [])]
    return Core(Profile([*chosen, RuleSet(list(rules), name="test rules")]))


# -- the dictionary ---------------------------------------------------------------------


@pytest.mark.parametrize("code", STANDARD)
def test_standard_codes_are_known(code: tuple[str, str, str]) -> None:
    value, scheme, meaning = code
    assert is_standard_code(scheme, value, meaning)


@pytest.mark.parametrize("code", LOCAL)
def test_local_codes_are_not(code: tuple[str, str, str]) -> None:
    value, scheme, meaning = code
    assert not is_standard_code(scheme, value, meaning)


def test_dictionary_covers_the_shipped_schemes_and_cid_7050() -> None:
    schemes = {key.split("\t")[0] for key in standard_codes()}
    assert {"DCM", "SCT", "LN", "UCUM", "NCIT", "RADLEX", "MDC", "FMA"} <= schemes
    for scheme, value, meaning in CID7050:  # the codes idiscore inserts itself
        assert is_standard_code(scheme, value, meaning)
    assert not is_standard_code(DUMMY_CODE[1], DUMMY_CODE[0], DUMMY_CODE[2])


def test_the_shipped_table_is_what_the_generator_builds_from_pydicom() -> None:
    """tools/generate_standard_codes.py from the installed pydicom gives the shipped bytes
    (when the installed pydicom is the one the table names)."""
    import gzip
    import importlib.util
    from importlib import resources
    from pathlib import Path

    from idiscore.operators import codes

    shipped = resources.files("idiscore.standard").joinpath(codes.CODES_FILE).read_bytes()
    header = gzip.decompress(shipped).split(b"\n", 1)[0].decode()
    if f"pydicom {pydicom.__version__} " not in header:
        pytest.skip(f"the table comes from another pydicom: {header}")
    path = Path(__file__).resolve().parents[1] / "tools" / "generate_standard_codes.py"
    spec = importlib.util.spec_from_file_location("generate_standard_codes", path)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.build() == shipped
    for text in ("Chest  X-Ray", "Ångström\tunit", " a b "):
        assert generator.normalise_meaning(text) == codes.normalise_meaning(text)


# -- codes in sequences that no rule names (kept: the walker) -----------------------------


@pytest.mark.parametrize("code", STANDARD)
def test_standard_code_survives_in_a_kept_sequence(code: tuple[str, str, str]) -> None:
    ds = sop_dataset(AnatomicRegionSequence=Sequence([code_item(*code)]))
    out = deidentify(create_default_core(), ds)
    assert code_of(out.AnatomicRegionSequence[0]) == code


@pytest.mark.parametrize("field", VALUE_FIELDS)
@pytest.mark.parametrize("code", LOCAL)
def test_local_code_becomes_the_dummy_in_a_kept_sequence(
    code: tuple[str, str, str], field: str
) -> None:
    ds = sop_dataset(AnatomicRegionSequence=Sequence([code_item(*code, field=field)]))
    ds.AnatomicRegionSequence[0].CodingSchemeVersion = "JANE"
    ds.AnatomicRegionSequence[0].MappingResourceName = "St Mary JANE"
    out = deidentify(create_default_core(), ds)
    item = out.AnatomicRegionSequence[0]
    assert code_of(item) == dummy(field)
    assert "CodingSchemeVersion" not in item and "MappingResourceName" not in item
    data = output_bytes(out)
    assert not any(marker.encode() in data for marker in MARKERS)


# -- codes in a sequence replaced by D -----------------------------------------------------


def _nested_purpose_of_reference(code: Dataset) -> Dataset:
    """A Source Image Sequence item whose Purpose of Reference holds ``code``, one level
    deeper inside a Referenced Image Sequence."""
    inner = Dataset()
    inner.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    inner.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    inner.PurposeOfReferenceCodeSequence = Sequence([code])
    outer = Dataset()
    outer.ReferencedImageSequence = Sequence([inner])
    outer.PurposeOfReferenceCodeSequence = Sequence([code])
    return outer


def _codes_below(item: Dataset) -> list[tuple[str, str, str]]:
    found = []
    for element in item:
        if element.VR == "SQ":
            for child in element.value:
                found.extend(_codes_below(child))
    if any(field in item for field in VALUE_FIELDS):
        found.append(code_of(item))
    return found


@pytest.mark.parametrize("code", STANDARD)
def test_standard_code_survives_inside_a_replaced_sequence(code: tuple[str, str, str]) -> None:
    ds = sop_dataset(
        SourceImageSequence=Sequence([_nested_purpose_of_reference(code_item(*code))])
    )
    out = deidentify(with_rules(Rule(SingleTag("SourceImageSequence"), Replace())), ds)
    assert _codes_below(out.SourceImageSequence[0]) == [code, code]


@pytest.mark.parametrize("field", VALUE_FIELDS)
@pytest.mark.parametrize("code", LOCAL)
def test_local_code_becomes_the_dummy_inside_a_replaced_sequence(
    code: tuple[str, str, str], field: str
) -> None:
    item = _nested_purpose_of_reference(code_item(*code, field=field))
    ds = sop_dataset(SourceImageSequence=Sequence([item]))
    out = deidentify(with_rules(Rule(SingleTag("SourceImageSequence"), Replace())), ds)
    assert _codes_below(out.SourceImageSequence[0]) == [dummy(field), dummy(field)]
    data = output_bytes(out)
    assert not any(marker.encode() in data for marker in MARKERS)


# -- sequences that identify a person or an organisation -----------------------------------

IDENTIFYING = sorted(IDENTIFYING_SEQUENCES)


def _identifying_dataset(sequence_tag: int, code: Dataset, sop_class: str) -> Dataset:
    ds = sop_dataset()
    ds.SOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.add_new(sequence_tag, "SQ", Sequence([code]))
    return ds


#: How the identifying sequence is reached: kept (walker), replaced (D), nested below a
#: kept Person Identification macro, replaced by the compound code X/Z/D resolved to D.
IDENTIFYING_PATHS: dict[str, Callable[[int], Core]] = {
    "kept": lambda tag: with_rules(Rule(SingleTag(tag), Keep())),
    "replaced": lambda tag: with_rules(Rule(SingleTag(tag), Replace())),
}


@pytest.mark.parametrize("field", VALUE_FIELDS)
@pytest.mark.parametrize("path", sorted(IDENTIFYING_PATHS))
@pytest.mark.parametrize("tag", IDENTIFYING, ids=lambda t: f"{t:08X}")
def test_no_original_code_survives_in_an_identifying_sequence(
    tag: int, path: str, field: str
) -> None:
    for code in (*STANDARD[:2], *LOCAL[:2]):
        ds = _identifying_dataset(tag, code_item(*code, field=field), UNKNOWN_SOP_CLASS)
        out = deidentify(IDENTIFYING_PATHS[path](tag), ds)
        assert _codes_below(out[tag].value[0]) == [dummy(field)], code
        data = output_bytes(out)
        assert not any(marker.encode() in data for marker in MARKERS)


@pytest.mark.parametrize("field", VALUE_FIELDS)
def test_person_identification_code_nested_in_a_kept_identification_sequence(field: str) -> None:
    person = Dataset()
    person.PersonIdentificationCodeSequence = Sequence(
        [code_item("113100", "DCM", "Basic Application Confidentiality Profile", field)]
    )
    person.InstitutionCodeSequence = Sequence([code_item("4711", "L", "St Mary JANE", field)])
    person.InstitutionalDepartmentTypeCodeSequence = Sequence(
        [code_item("76752008", "SCT", "Breast")]
    )
    ds = sop_dataset(OperatorIdentificationSequence=Sequence([person]))
    out = deidentify(with_rules(Rule(SingleTag("OperatorIdentificationSequence"), Keep())), ds)
    item = out.OperatorIdentificationSequence[0]
    assert code_of(item.PersonIdentificationCodeSequence[0]) == dummy(field)
    assert code_of(item.InstitutionCodeSequence[0]) == dummy(field)
    assert "InstitutionalDepartmentTypeCodeSequence" not in item  # X by its own rule


def test_basic_profile_x_z_d_resolved_to_d_and_person_identification_d() -> None:
    """Basic Profile: Institution Code Sequence X/Z/D (D for an unknown SOP class) and
    Person Identification Code Sequence D both come out with the dummy code only."""
    ds = sop_dataset()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UNKNOWN_SOP_CLASS
    ds.InstitutionCodeSequence = Sequence(
        [code_item("113100", "DCM", "Basic Application Confidentiality Profile")]
    )
    ds.PersonIdentificationCodeSequence = Sequence([code_item("4711", "L", "JANE")])
    out = deidentify(with_rules(), ds)
    assert code_of(out.InstitutionCodeSequence[0]) == dummy()
    assert code_of(out.PersonIdentificationCodeSequence[0]) == dummy()


def test_retain_institution_identity_keeps_institution_codes_as_they_are() -> None:
    code = ("4711", "L", "St Mary")
    ds = sop_dataset(InstitutionCodeSequence=Sequence([code_item(*code)]))
    out = deidentify(with_rules(sets=["retain_institution_id"]), ds)
    assert code_of(out.InstitutionCodeSequence[0]) == code
    # without the option the same sequence keeps no original code
    out = deidentify(with_rules(Rule(SingleTag("InstitutionCodeSequence"), Keep())), ds)
    assert code_of(out.InstitutionCodeSequence[0]) == dummy()


# -- coded content, scheme identification, context attributes ------------------------------


def test_concept_names_and_concept_codes_of_content_items() -> None:
    def content(concept: tuple[str, str, str], value: tuple[str, str, str]) -> Dataset:
        item = Dataset()
        item.RelationshipType = "CONTAINS"
        item.ValueType = "CODE"
        item.ConceptNameCodeSequence = Sequence([code_item(*concept)])
        item.ConceptCodeSequence = Sequence([code_item(*value)])
        return item

    standard_name = ("121071", "DCM", "Finding")
    finding = ("76752008", "SCT", "Breast")
    ds = sop_dataset(
        ContentSequence=Sequence(
            [content(standard_name, finding), content(("4711", "99HOSP", "JANE"), LOCAL[1])]
        )
    )
    core = with_rules(sets=["clean_structured_content"])
    out = deidentify(core, ds)
    first, second = out.ContentSequence
    assert code_of(first.ConceptNameCodeSequence[0]) == standard_name
    assert code_of(first.ConceptCodeSequence[0]) == finding
    assert code_of(second.ConceptNameCodeSequence[0]) == dummy()
    assert code_of(second.ConceptCodeSequence[0]) == dummy()


def test_scheme_context_and_mapping_identification_sequences_are_removed() -> None:
    scheme = Dataset()
    scheme.CodingSchemeDesignator = "99HOSP"
    scheme.CodingSchemeName = "St Mary JANE codes"
    scheme.CodingSchemeResponsibleOrganization = "St Mary Hospital 4711"
    context = Dataset()
    context.ContextIdentifier = "4711"
    context.MappingResource = "99HOSP"
    mapping = Dataset()
    mapping.MappingResource = "99HOSP"
    mapping.MappingResourceName = "JANE's mapping"
    ds = sop_dataset(
        CodingSchemeIdentificationSequence=Sequence([scheme]),
        ContextGroupIdentificationSequence=Sequence([context]),
        MappingResourceIdentificationSequence=Sequence([mapping]),
    )
    out = deidentify(create_default_core(), ds)
    for keyword in (
        "CodingSchemeIdentificationSequence",
        "ContextGroupIdentificationSequence",
        "MappingResourceIdentificationSequence",
    ):
        assert keyword not in out
    data = output_bytes(out)
    assert not any(marker.encode() in data for marker in MARKERS)


def test_context_attributes_follow_the_code() -> None:
    def qualified(code: tuple[str, str, str]) -> Dataset:
        item = code_item(*code)
        item.CodingSchemeVersion = "01"
        item.ContextIdentifier = "7050"
        item.MappingResource = "DCMR"
        item.ContextUID = "1.2.840.10008.6.1.1"
        item.ContextGroupExtensionFlag = "Y"
        item.ContextGroupExtensionCreatorUID = "1.2.826.0.1.3680043.8.498.4711"
        item.MappingResourceUID = "1.2.826.0.1.3680043.8.498.4712"
        return item

    ds = sop_dataset(
        AnatomicRegionSequence=Sequence([qualified(STANDARD[0]), qualified(LOCAL[0])])
    )
    out = deidentify(create_default_core(), ds)
    standard, local = out.AnatomicRegionSequence
    assert standard.CodingSchemeVersion == "01"
    assert (standard.ContextIdentifier, standard.MappingResource) == ("7050", "DCMR")
    assert standard.ContextUID == "1.2.840.10008.6.1.1"
    extensions = ("ContextGroupExtensionFlag", "ContextGroupExtensionCreatorUID")
    assert not any(k in standard for k in (*extensions, "MappingResourceUID"))
    assert code_of(local) == dummy()
    kept = {"CodeValue", "CodingSchemeDesignator", "CodeMeaning"}
    assert {e.keyword for e in local} == kept
    # a standard code with a site's context group keeps its code, not the context
    site = qualified(STANDARD[0])
    site.ContextIdentifier = "JANE"
    out = deidentify(create_default_core(), sop_dataset(AnatomicRegionSequence=Sequence([site])))
    item = out.AnatomicRegionSequence[0]
    assert code_of(item) == STANDARD[0]
    assert not any(k in item for k in ("ContextIdentifier", "MappingResource", "ContextUID"))


# -- encodings -----------------------------------------------------------------------------


def _encoded(ds: Dataset, implicit: bool, undefined: bool) -> Dataset:
    """``ds`` written with the given encoding and read back (raw elements, as from a file)."""
    for element in ds.iterall():
        if element.VR == "SQ":
            element.is_undefined_length = undefined
            for item in element.value:
                item.is_undefined_length_sequence_item = undefined
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


@pytest.mark.parametrize("undefined", [False, True], ids=["defined", "undefined"])
@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_every_sq_encoding_gives_the_same_codes(implicit: bool, undefined: bool) -> None:
    def build() -> Dataset:
        person = Dataset()
        person.PersonIdentificationCodeSequence = Sequence([code_item("4711", "L", "JANE")])
        return sop_dataset(
            AnatomicRegionSequence=Sequence([code_item(*STANDARD[1]), code_item(*LOCAL[0])]),
            OperatorIdentificationSequence=Sequence([person]),
        )

    core = with_rules(Rule(SingleTag("OperatorIdentificationSequence"), Keep()))
    plain = deidentify(core, build())
    encoded = deidentify(core, _encoded(build(), implicit, undefined))
    for out in (plain, encoded):
        regions = [code_of(i) for i in out.AnatomicRegionSequence]
        assert regions == [STANDARD[1], dummy()]
        operator = out.OperatorIdentificationSequence[0]
        assert code_of(operator.PersonIdentificationCodeSequence[0]) == dummy()
        assert not any(m.encode() in output_bytes(out) for m in MARKERS)


def test_codes_in_a_kept_private_sequence() -> None:
    ds = sop_dataset()
    block = ds.private_block(0x0013, "SITE CODES", create=True)
    block.add_new(0x10, "SQ", Sequence([code_item(*LOCAL[0]), code_item(*STANDARD[0])]))
    keep = Rule(PrivateBlockTagIdentifier("0013,[SITE CODES]10"), Keep())
    out = deidentify(with_rules(keep), ds)
    items = out.private_block(0x0013, "SITE CODES")[0x10].value
    assert [code_of(i) for i in items] == [dummy(), STANDARD[0]]
    # without a rule that keeps it, the Basic Profile removes the private sequence
    assert 0x00131010 not in deidentify(create_default_core(), ds)


# -- invariants ----------------------------------------------------------------------------

_words = st.text(alphabet="ABCDEFGHJKMNPQRSTUVWXYZ", min_size=6, max_size=12)


@given(value=_words, scheme=st.sampled_from(["99HOSP", "L", "LOCAL", "DCM", "SCT"]), name=_words)
def test_no_local_code_text_survives_anywhere(value: str, scheme: str, name: str) -> None:
    code = code_item(value, scheme, f"Dr {name}")
    replaced = Dataset()
    replaced.PurposeOfReferenceCodeSequence = Sequence([code_item(value, scheme, name)])
    ds = sop_dataset(
        AnatomicRegionSequence=Sequence([code]),
        SourceImageSequence=Sequence([replaced]),
    )
    out = deidentify(with_rules(Rule(SingleTag("SourceImageSequence"), Replace())), ds)
    data = output_bytes(out)
    assert value.encode() not in data and name.encode() not in data


@given(st.sampled_from(sorted(standard_codes())))
def test_every_dictionary_code_survives_with_its_meaning(key: str) -> None:
    scheme, value = key.split("\t")
    meaning = standard_codes()[key][0]  # normalised: no spaces, case folded
    if len(value) > 16 or len(meaning) > 64:  # Long Code Value territory, or too long for LO
        return
    ds = sop_dataset(AnatomicRegionSequence=Sequence([code_item(value, scheme, meaning)]))
    out = create_default_core().deidentify(ds)
    assert code_of(out.AnatomicRegionSequence[0]) == (value, scheme, meaning)


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_sibling_items_at_the_same_path_are_decided_one_by_one(implicit: bool) -> None:
    """Read from a file, each kept sequence is decoded into new items while it is walked;
    items of sibling sequences at the same path must not share a decision."""

    def reference(code: tuple[str, str, str]) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
        item.PurposeOfReferenceCodeSequence = Sequence([code_item(*code)])
        return item

    codes = [STANDARD[0], LOCAL[0], STANDARD[1], LOCAL[1], LOCAL[2], STANDARD[0]]
    ds = sop_dataset(ReferencedImageSequence=Sequence([reference(c) for c in codes]))
    out = deidentify(create_default_core(), _encoded(ds, implicit, undefined=False))
    found = [code_of(i.PurposeOfReferenceCodeSequence[0]) for i in out.ReferencedImageSequence]
    expected = [c if c in STANDARD else dummy() for c in codes]
    assert found == expected


def test_a_new_item_never_inherits_the_decision_of_a_freed_one() -> None:
    """Decisions are remembered per item for one dataset; an item built later (operators
    and decoding make short-lived items) must not reuse a freed item's decision, even
    where it gets the freed item's id."""
    from pydicom.dataelem import DataElement

    from idiscore.operators.base import Context
    from idiscore.operators.codes import code_attribute

    root = sop_dataset()
    first = Context.for_dataset(root)
    path = (0x00081140, 0x0040A170)
    item = code_item(*STANDARD[0])
    context = Context(item, first._shared, path=path)
    meaning = DataElement(0x00080104, "LO", STANDARD[0][2])
    assert code_attribute(meaning, context) is meaning
    freed = id(item)
    del item, context
    for _ in range(2000):  # look for an item at the freed address
        local = code_item(*LOCAL[0])
        if id(local) == freed:
            break
    result = code_attribute(
        DataElement(0x00080104, "LO", LOCAL[0][2]), Context(local, first._shared, path=path)
    )
    assert result is not None and result.value == DUMMY_CODE[2]


def test_a_code_attribute_encoded_as_a_sequence_is_removed() -> None:
    inner = Dataset()
    inner.PatientName = "JANE^SMITH"
    item = code_item(*STANDARD[0])
    del item.CodeMeaning
    item.add_new(0x00080104, "SQ", Sequence([inner]))  # Code Meaning, as a sequence
    ds = sop_dataset(AnatomicRegionSequence=Sequence([item]))
    out = deidentify(create_default_core(), ds)
    assert 0x00080104 not in out.AnatomicRegionSequence[0]
    assert b"JANE" not in output_bytes(out)
