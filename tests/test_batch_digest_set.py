"""DigestSet: the set of path digests a batch keeps, in about 16 bytes a digest."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idiscore.batch.report import DigestSet, path_digest

# digests that often share their first or last 8 bytes, so that both halves are compared
_HALVES = st.sampled_from([bytes(8), b"\xff" * 8, b"\x80" + bytes(7), b"\x7f" + b"\xff" * 7])
_DIGESTS = st.one_of(
    st.binary(min_size=16, max_size=16),
    st.tuples(_HALVES, st.binary(min_size=8, max_size=8)).map(b"".join),
    st.tuples(st.binary(min_size=8, max_size=8), _HALVES).map(b"".join),
    st.tuples(_HALVES, _HALVES).map(b"".join),
)


class _SmallDigestSet(DigestSet):
    RECENT = 3  # merges after every few digests


@settings(max_examples=300, deadline=None)
@given(added=st.lists(_DIGESTS, max_size=60), probes=st.lists(_DIGESTS, max_size=30))
def test_it_behaves_like_a_set(added: list[bytes], probes: list[bytes]) -> None:
    """Whatever the order and the merges in between."""
    digests = _SmallDigestSet()
    reference: set[bytes] = set()
    for digest in added:
        digests.add(digest)
        reference.add(digest)
        assert digest in digests
        assert len(digests) == len(reference)
    for digest in added + probes:
        assert (digest in digests) == (digest in reference)
    assert bool(digests) == bool(reference)


def test_what_is_not_a_digest_is_not_in_it() -> None:
    digests = DigestSet([path_digest("/out/a.dcm")])
    assert "/out/a.dcm" not in digests
    assert path_digest("/out/a.dcm")[:8] not in digests
    with pytest.raises(ValueError, match="16 bytes"):
        digests.add(b"short")


def _digest(number: int) -> bytes:
    return hashlib.blake2b(number.to_bytes(4, "big"), digest_size=16).digest()


def test_many_digests_take_about_16_bytes_each() -> None:
    count = 4 * DigestSet.RECENT + 123
    digests = DigestSet(_digest(i) for i in range(count))
    assert len(digests) == count
    assert digests.nbytes <= 16 * count + 90 * DigestSet.RECENT  # a set: about 90 a digest
    assert all(_digest(i) in digests for i in range(0, count, 997))
    assert not any(_digest(i) in digests for i in range(count, count + 1000))


def _halves(digests: list[bytes]) -> tuple[list[int], list[int]]:
    return (
        [int.from_bytes(d[:8], "big") for d in digests],
        [int.from_bytes(d[8:], "big") for d in digests],
    )


@settings(max_examples=200, deadline=None)
@given(added=st.lists(_DIGESTS, max_size=40), probes=st.lists(_DIGESTS, max_size=20))
def test_built_from_halves_it_is_the_same_set(added: list[bytes], probes: list[bytes]) -> None:
    """Duplicates collapse; every digest added is in it, nothing else is; it still grows."""
    high, low = _halves(added)
    digests = _SmallDigestSet.from_halves(
        np.array(high, dtype=np.uint64), np.array(low, dtype=np.uint64)
    )
    assert len(digests) == len(set(added))
    for digest in added + probes:
        assert (digest in digests) == (digest in set(added))
    for digest in probes:  # adding after the build merges with the built arrays
        digests.add(digest)
    assert len(digests) == len(set(added) | set(probes))
    assert all(digest in digests for digest in added + probes)
