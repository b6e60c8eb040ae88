"""The per-patient date shift, as idiscore 1.x's ``TimeDeltaProvider`` handed it out.

idiscore 1.x shifted dates back by a random delta drawn per study and kept in memory, so
the shift changed from run to run and from process to process. idiscore derives the
shift from the secret key and the patient (see
:meth:`idiscore.pseudonyms.Pseudonymizer.date_shift_days`): every study of a patient moves
by the same number of days, on any machine, in any run with the same key.
:class:`TimeDeltaProvider` answers with that shift::

    provider = TimeDeltaProvider()            # key from IDISCORE_KEY
    provider.get_delta(dataset)               # timedelta; shifted date = date - delta
"""

from __future__ import annotations

from datetime import timedelta

from pydicom.dataset import Dataset

from idiscore.pseudonyms import Pseudonymizer


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword, "")
    return "" if value is None else str(value)


class TimeDeltaProvider:
    """The date shift idiscore applies to a dataset, as a :class:`~datetime.timedelta`.

    ``get_delta(dataset)`` is what to *subtract* from a date (the 1.x convention): the
    same for every dataset of one patient (Patient ID and Issuer of Patient ID) and key.
    """

    def __init__(self, pseudonymizer: Pseudonymizer | None = None) -> None:
        self._pseudonymizer = pseudonymizer
        #: The deltas handed out so far, by :meth:`extract_key`.
        self.generated: dict[str, timedelta] = {}

    @property
    def pseudonymizer(self) -> Pseudonymizer:
        if self._pseudonymizer is None:
            self._pseudonymizer = Pseudonymizer.from_env()
        return self._pseudonymizer

    @staticmethod
    def extract_key(dataset: Dataset) -> str:
        """Datasets with the same key get the same delta: Patient ID and its issuer."""
        issuer = _text(dataset, "IssuerOfPatientID")
        patient_id = _text(dataset, "PatientID")
        return f"{patient_id}\\{issuer}" if issuer else patient_id

    def get_delta(self, dataset: Dataset) -> timedelta:
        """The delta to subtract from ``dataset``'s dates (whole days, keyed)."""
        key = self.extract_key(dataset)
        delta = self.generated.get(key)
        if delta is None:
            days = self.pseudonymizer.date_shift_days(
                _text(dataset, "PatientID"), _text(dataset, "IssuerOfPatientID")
            )
            delta = self.generated[key] = timedelta(days=-days)
        return delta

    def __repr__(self) -> str:
        return f"TimeDeltaProvider({self._pseudonymizer!r})"


__all__ = ["TimeDeltaProvider"]
