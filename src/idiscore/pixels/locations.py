"""Where identifying text sits in an image: rectangles, the datasets they apply to, files.

* :class:`SquareArea` - one rectangle in pixel coordinates (``x`` = column, ``y`` = row,
  origin at the top-left pixel; it covers columns ``x .. x+width-1`` and rows
  ``y .. y+height-1``; parts outside the image are clipped when blanking).
* :class:`PIILocation` - rectangles plus the :class:`~idiscore.pixels.criterion.Criterion`
  saying which datasets they apply to (``None``: every dataset).
* :class:`PIILocationList` - an ordered collection; :meth:`PIILocationList.get_matching`.

Location file format (JSON, UTF-8)::

    {
      "format": "idiscore-pii-locations",
      "version": 1,
      "locations": [
        {
          "description": "ACME Sono 3000, 640x480: patient banner across the top",
          "source": "measured on our own test images, 2024-05",
          "conditions": {"Manufacturer": {"contains": "ACME"}, "Rows": 480, "Columns": 640},
          "areas": [{"x": 0, "y": 0, "width": 640, "height": 40}]
        }
      ]
    }

``conditions`` uses the :mod:`~idiscore.pixels.criterion` syntax; leaving it out (or ``{}``)
makes the location apply to every dataset. ``description`` and ``source`` are optional
free text, kept for traceability. Unknown keys anywhere are errors, so that a typo never
silently widens or narrows what gets blanked. Every problem raises
:class:`~idiscore.errors.ConfigurationError` naming the entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from idiscore.errors import ConfigurationError
from idiscore.pixels.criterion import Criterion

FORMAT_NAME = "idiscore-pii-locations"
FORMAT_VERSION = 1
_AREA_KEYS = ("x", "y", "width", "height")
_LOCATION_KEYS = {"description", "source", "conditions", "areas"}
_FILE_KEYS = {"format", "version", "locations", "note"}


@dataclass(frozen=True)
class SquareArea:
    """A rectangle of pixels: ``origin_x`` is the column, ``origin_y`` the row."""

    origin_x: int
    origin_y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("origin_x", "origin_y", "width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigurationError(f"SquareArea.{name} must be an int, got {value!r}")
        if self.origin_x < 0 or self.origin_y < 0:
            raise ConfigurationError(
                f"SquareArea origin must be non-negative, got ({self.origin_x}, {self.origin_y})"
            )
        if self.width <= 0 or self.height <= 0:
            raise ConfigurationError(
                f"SquareArea width and height must be positive, got {self.width}x{self.height}"
            )

    def clipped(self, rows: int, columns: int) -> tuple[int, int, int, int] | None:
        """``(row_start, row_stop, column_start, column_stop)`` inside the image, or None."""
        row_stop = min(rows, self.origin_y + self.height)
        column_stop = min(columns, self.origin_x + self.width)
        if self.origin_y >= row_stop or self.origin_x >= column_stop:
            return None
        return self.origin_y, row_stop, self.origin_x, column_stop

    def to_dict(self) -> dict[str, int]:
        return {"x": self.origin_x, "y": self.origin_y, "width": self.width, "height": self.height}


@dataclass(frozen=True, init=False)
class PIILocation:
    """Rectangles to blank in every dataset matching ``criterion`` (None: every dataset)."""

    areas: tuple[SquareArea, ...]
    criterion: Criterion | None = None
    description: str = ""
    source: str = field(default="", compare=False)

    def __init__(
        self,
        areas: Sequence[SquareArea],
        criterion: Criterion | None = None,
        description: str = "",
        source: str = "",
    ) -> None:
        areas = tuple(areas)
        if not areas:
            raise ConfigurationError("a PIILocation needs at least one SquareArea")
        for area in areas:
            if not isinstance(area, SquareArea):
                raise ConfigurationError(f"PIILocation areas must be SquareArea, got {area!r}")
        if criterion is not None and not isinstance(criterion, Criterion):
            raise ConfigurationError("PIILocation criterion must be a Criterion or None")
        object.__setattr__(self, "areas", areas)
        object.__setattr__(self, "criterion", criterion)
        object.__setattr__(self, "description", str(description))
        object.__setattr__(self, "source", str(source))

    def matches(self, dataset: Dataset) -> bool:
        """True when this location applies to ``dataset`` (header only)."""
        return self.criterion is None or self.criterion.matches(dataset)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.description:
            data["description"] = self.description
        if self.source:
            data["source"] = self.source
        data["conditions"] = {} if self.criterion is None else self.criterion.to_dict()
        data["areas"] = [area.to_dict() for area in self.areas]
        return data

    def __repr__(self) -> str:
        label = f", description={self.description!r}" if self.description else ""
        return f"PIILocation(areas={list(self.areas)!r}, criterion={self.criterion!r}{label})"


class PIILocationList:
    """An ordered collection of :class:`PIILocation`."""

    def __init__(self, locations: Iterable[PIILocation] = ()) -> None:
        self.locations: tuple[PIILocation, ...] = tuple(locations)
        for location in self.locations:
            if not isinstance(location, PIILocation):
                raise ConfigurationError(f"expected PIILocation, got {location!r}")

    def get_matching(self, dataset: Dataset) -> list[PIILocation]:
        """The locations that apply to ``dataset``, in order (reads the header only)."""
        return [location for location in self.locations if location.matches(dataset)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "locations": [location.to_dict() for location in self.locations],
        }

    def __iter__(self) -> Iterator[PIILocation]:
        return iter(self.locations)

    def __len__(self) -> int:
        return len(self.locations)

    def __add__(self, other: PIILocationList) -> PIILocationList:
        return PIILocationList(self.locations + tuple(other))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PIILocationList):
            return NotImplemented
        return self.locations == other.locations

    def __hash__(self) -> int:
        return hash(self.locations)

    def __repr__(self) -> str:
        return f"PIILocationList({list(self.locations)!r})"


def _area_from_data(data: Any, where: str) -> SquareArea:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where}: an area is an object with keys x, y, width, height")
    if set(data) != set(_AREA_KEYS):
        raise ConfigurationError(
            f"{where}: an area needs exactly the keys x, y, width, height, got {sorted(data)}"
        )
    return SquareArea(data["x"], data["y"], data["width"], data["height"])


def location_from_dict(data: Any, where: str = "location") -> PIILocation:
    """Build one :class:`PIILocation` from its JSON form (see the module docstring)."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where}: a location is a JSON object")
    unknown = set(data) - _LOCATION_KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    areas_data = data.get("areas")
    if not isinstance(areas_data, list) or not areas_data:
        raise ConfigurationError(f"{where}: 'areas' must be a non-empty list")
    conditions = data.get("conditions") or {}
    try:
        criterion = Criterion(conditions) if conditions else None
        areas = [_area_from_data(a, f"{where}, area {i}") for i, a in enumerate(areas_data)]
        description = data.get("description", "")
        source = data.get("source", "")
        if not isinstance(description, str) or not isinstance(source, str):
            raise ConfigurationError("'description' and 'source' must be strings")
        return PIILocation(areas, criterion, description=description, source=source)
    except ConfigurationError as error:
        if str(error).startswith(where):
            raise
        raise ConfigurationError(f"{where}: {error}") from error


def locations_from_dict(data: Any, where: str = "locations") -> PIILocationList:
    """Build a :class:`PIILocationList` from the whole-file JSON form."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where}: the top level must be a JSON object")
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    if data.get("format") != FORMAT_NAME:
        raise ConfigurationError(f"{where}: 'format' must be {FORMAT_NAME!r}")
    if data.get("version") != FORMAT_VERSION:
        raise ConfigurationError(
            f"{where}: unsupported version {data.get('version')!r}, expected {FORMAT_VERSION}"
        )
    entries = data.get("locations")
    if not isinstance(entries, list):
        raise ConfigurationError(f"{where}: 'locations' must be a list")
    return PIILocationList(
        location_from_dict(entry, f"{where}, location {index}")
        for index, entry in enumerate(entries)
    )


def load_locations(path: str | Path) -> PIILocationList:
    """Read a location file (JSON, see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read location file {path}: {error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{path} is not valid JSON: {error}") from error
    return locations_from_dict(data, where=str(path))


def save_locations(locations: PIILocationList, path: str | Path) -> None:
    """Write ``locations`` in the file format :func:`load_locations` reads."""
    text = json.dumps(locations.to_dict(), indent=2, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def default_location_list() -> PIILocationList:
    """The location list shipped with idiscore (``idiscore/data/pii_locations.json``).

    It is deliberately empty: idiscore has no verified vendor coordinates to ship (see the
    file's note). With no matching location, datasets whose pixels are likely to carry
    burned-in text are rejected by :class:`~idiscore.bouncers.RejectBurnedInAnnotation`
    instead of being passed through. Add your own with :func:`load_locations`.
    """
    text = resources.files("idiscore").joinpath("data/pii_locations.json").read_text("utf-8")
    return locations_from_dict(json.loads(text), where="idiscore/data/pii_locations.json")
