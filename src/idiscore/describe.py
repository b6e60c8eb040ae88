"""Describe a profile: every rule as text, Markdown, CSV or HTML (``describe(profile, fmt)``)."""

from __future__ import annotations

import csv
import html
import io
from typing import TYPE_CHECKING

from pydicom.datadict import dictionary_description, keyword_for_tag

from idiscore.errors import ConfigurationError
from idiscore.identifiers import SingleTag
from idiscore.safety_net import SAFETY_NET_NAME

if TYPE_CHECKING:
    from idiscore.profile import Profile

FORMATS = ("text", "md", "csv", "html")
COLUMNS = ("tag", "keyword", "name", "operator", "action", "rule set")


def rule_rows(profile: Profile) -> list[tuple[str, str, str, str, str, str]]:
    """One row per effective rule: (tag, keyword, name, operator, action code, rule set).

    The safety net's rules (see :mod:`idiscore.safety_net`) come last, under its name.
    """
    rows = []
    net = profile.safety_net_rules
    for rule in [*profile.rules, *(net or ())]:
        ident = rule.identifier
        keyword = name = ""
        if isinstance(ident, SingleTag):
            keyword = keyword_for_tag(ident.tag) or ""
            try:
                name = dictionary_description(ident.tag)
            except KeyError:
                name = ""
        else:
            name = ident.name
        rule_set = profile.rule_set_of(rule)
        rows.append(
            (
                ident.key,
                keyword,
                name,
                repr(rule.operation),
                rule.action_code or "",
                rule_set.name if rule_set is not None else "",
            )
        )
    rows.sort(key=lambda r: (r[5] == SAFETY_NET_NAME, r[0]))
    return rows


def describe(profile: Profile, format: str = "text") -> str:
    """The rules of ``profile`` as a table in ``format`` (text, md, csv or html)."""
    if format not in FORMATS:
        raise ConfigurationError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    rows = rule_rows(profile)
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return buffer.getvalue()
    if format == "md":
        lines = [
            f"# {profile.name}",
            "",
            f"{len(rows)} rules from {len(profile.rule_sets)} rule sets"
            + (" and the safety net." if profile.safety_net else "."),
            "",
            "| " + " | ".join(COLUMNS) + " |",
            "|" + "---|" * len(COLUMNS),
        ]
        for row in rows:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        return "\n".join(lines) + "\n"
    if format == "html":
        head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        body = "\n".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return (
            f"<table>\n<caption>{html.escape(profile.name)}</caption>\n"
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
        )
    widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) for i in range(len(COLUMNS))]
    lines = [f"{profile.name}: {len(rows)} rules"]
    lines.append("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip())
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


__all__ = ["FORMATS", "describe", "rule_rows"]
