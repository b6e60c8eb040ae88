import pytest

from idiscore.errors import (
    ConfigurationError,
    DatasetRejectedError,
    DeidentificationError,
    IDISCoreError,
    MissingDependencyError,
    PixelDataProcessingError,
)


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(ConfigurationError, IDISCoreError)


def test_missing_dependency_is_an_import_error() -> None:
    assert issubclass(MissingDependencyError, ImportError)


def test_rejection_names_bouncer_and_reason() -> None:
    class MyBouncer:
        pass

    err = DatasetRejectedError("burned-in text", bouncer=MyBouncer())
    assert err.reason == "burned-in text"
    assert err.bouncer_name == "MyBouncer"
    assert "MyBouncer" in str(err) and "burned-in text" in str(err)
    assert not isinstance(err, DeidentificationError)


def test_deidentification_error_message_names_tag_path_and_context() -> None:
    err = PixelDataProcessingError(
        "cannot decode", tag=0x7FE00010, path="(7FE0,0010)", context="file a.dcm"
    )
    assert isinstance(err, DeidentificationError)
    assert "(7FE0,0010)" in str(err) and "a.dcm" in str(err)
    with pytest.raises(IDISCoreError):
        raise err
