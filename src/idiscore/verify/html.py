"""The HTML report of an audit: one self-contained file (inline CSS and JavaScript,
thumbnails as ``data:`` URIs; nothing is fetched from the network).

It shows the summary figures (files per status, leaks and kept values per class, the
findings on the whole output set, the MIDI-B score when there is one), a table of the files
that sorts by any column (click its header) and filters by text and status, and for each
file (click its row): its leaks, the values kept by an option, its problems, and the
before/after thumbnails of its pixels with the areas that changed outlined in red.

Like the JSON report it holds no element value -- but its *before* thumbnails show the
original pixels, burned-in text included: keep it with the data custodian.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["render_html", "write_html"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f7f8fa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.muted{color:#667}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:10px 16px;min-width:96px}
.card b{display:block;font-size:26px}.card.leak b{color:#c0262d}.card.problem b{color:#b26b00}
.card.clean b{color:#23863a}.card.kept b{color:#2f5fb3}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #e4e6ee;padding:5px 8px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{cursor:pointer;user-select:none;background:#eef0f5}th.sorted-up:after{content:" \\25B2"}
th.sorted-down:after{content:" \\25BC"}tr.file{cursor:pointer}tr.file:hover{background:#f3f6ff}
.status{font-weight:600}.s-leak{color:#c0262d}.s-problem{color:#b26b00}.s-clean{color:#23863a}
.s-kept{color:#2f5fb3}.s-not_verified{color:#667}
.detail td{background:#fafbfd}.thumbs{display:flex;gap:16px;margin-top:8px}
.thumb{position:relative;display:inline-block}.thumb img{display:block;image-rendering:pixelated}
.thumb svg{position:absolute;left:0;top:0}.thumb rect{fill:none;stroke:#e0262d;stroke-width:1}
.controls{display:flex;gap:8px;margin:8px 0}.controls input{flex:1;padding:5px}
ul{margin:4px 0 4px 18px;padding:0}
"""

_JS = """
const data = JSON.parse(document.getElementById('verify-data').textContent);
const body = document.querySelector('#files tbody');
const columns = ['status','input','output','leaks','kept','problems','values','seconds'];
let sortKey = 'status', sortUp = false;
const order = {clean:0, kept:1, not_verified:2, problem:3, leak:4};
function cell(row, key){
  if (key === 'leaks' || key === 'kept' || key === 'problems') return row[key].length;
  if (key === 'status') return order[row.status];
  return row[key] === null ? '' : row[key];
}
function el(tag, text, cls){const e=document.createElement(tag);
  if (text !== undefined) e.textContent=text; if (cls) e.className=cls; return e;}
function list(title, items, show){const box=el('div'); box.appendChild(el('b', title));
  const ul=el('ul'); items.forEach(i=>ul.appendChild(el('li', show(i)))); box.appendChild(ul);
  return box;}
function thumb(src, preview, label){const box=el('div'); box.appendChild(el('div', label,'muted'));
  const t=el('div', undefined, 'thumb'); const img=document.createElement('img');
  img.src=src; img.width=preview.width*2; img.height=preview.height*2; t.appendChild(img);
  const ns='http://www.w3.org/2000/svg'; const svg=document.createElementNS(ns,'svg');
  svg.setAttribute('width', preview.width*2); svg.setAttribute('height', preview.height*2);
  svg.setAttribute('viewBox', '0 0 '+preview.width+' '+preview.height);
  preview.boxes.forEach(b=>{const r=document.createElementNS(ns,'rect');
    r.setAttribute('x',b[0]); r.setAttribute('y',b[1]); r.setAttribute('width',b[2]-b[0]);
    r.setAttribute('height',b[3]-b[1]); r.setAttribute('class','box'); svg.appendChild(r);});
  t.appendChild(svg); box.appendChild(t); return box;}
function detail(row){const tr=el('tr', undefined, 'detail'); const td=el('td');
  td.colSpan=columns.length; const where=e=>e['class']+' in '+e.where+' ('+e.encoding+')';
  if (row.leaks.length) td.appendChild(list('Leaks', row.leaks, where));
  if (row.kept.length) td.appendChild(list('Kept by option', row.kept,
    e=>where(e)+': '+e.option));
  if (row.problems.length) td.appendChild(list('Problems', row.problems, p=>p));
  if (!row.leaks.length && !row.kept.length && !row.problems.length)
    td.appendChild(el('div','Nothing found.','muted'));
  const p=row.preview; if (p){const thumbs=el('div', undefined, 'thumbs');
    if (p.before) thumbs.appendChild(thumb(p.before, p, 'before'));
    if (p.after) thumbs.appendChild(thumb(p.after, p, 'after ('+p.boxes.length+' changed)'));
    td.appendChild(thumbs);}
  tr.appendChild(td); return tr;}
function render(){
  const text=document.getElementById('filter').value.toLowerCase();
  const status=document.getElementById('status-filter').value;
  const rows=data.files.filter(r=>(!status || r.status===status) &&
    (!text || (r.input+' '+(r.output||'')+' '+r.leaks.map(l=>l['class']+' '+l.where).join(' '))
      .toLowerCase().includes(text)));
  rows.sort((a,b)=>{const x=cell(a,sortKey), y=cell(b,sortKey);
    const c = x<y ? -1 : x>y ? 1 : 0; return sortUp ? c : -c;});
  body.replaceChildren();
  rows.forEach(r=>{const tr=el('tr', undefined, 'file');
    columns.forEach(k=>{const v=['leaks','kept','problems'].includes(k) ? r[k].length : r[k];
      const td=el('td', v===null ? '' : String(v)); if (k==='status')
      td.className='status s-'+r.status; tr.appendChild(td);});
    let open=null; tr.addEventListener('click',()=>{ if (open){open.remove(); open=null;}
      else {open=detail(r); tr.after(open);} });
    body.appendChild(tr);});
  document.getElementById('shown').textContent=rows.length;
  document.querySelectorAll('#files th').forEach(th=>{th.className=
    th.dataset.key===sortKey ? (sortUp ? 'sorted-up' : 'sorted-down') : '';});
}
document.querySelectorAll('#files th').forEach(th=>th.addEventListener('click',()=>{
  if (sortKey===th.dataset.key) sortUp=!sortUp; else {sortKey=th.dataset.key; sortUp=true;}
  render();}));
document.getElementById('filter').addEventListener('input', render);
document.getElementById('status-filter').addEventListener('change', render);
render();
"""

#: nothing may be fetched: images are data: URIs, style and script are inline
_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
)
_STATUS_TEXT = {
    "clean": "clean",
    "kept": "kept by option",
    "not_verified": "not verified",
    "problem": "problem",
    "leak": "leak",
}


def _file_record(result: Any) -> dict[str, Any]:
    record: dict[str, Any] = dict(result.record())
    record["preview"] = result.preview
    return record


def _cards(summary: Any) -> str:
    cards = [f'<div class="card"><b id="count-total">{summary.total}</b>files</div>']
    for status, label in _STATUS_TEXT.items():
        cards.append(
            f'<div class="card {status}"><b id="count-{status}">{summary.counts[status]}</b>'
            f"{html.escape(label)}</div>"
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _classes(title: str, counts: dict[str, int], ident: str) -> str:
    if not counts:
        return f'<p id="{ident}" class="muted">{html.escape(title)}: none</p>'
    items = "".join(
        f'<li><span class="cls">{html.escape(k)}</span>: <b>{v}</b></li>'
        for k, v in sorted(counts.items())
    )
    return f'<div id="{ident}"><b>{html.escape(title)}</b><ul>{items}</ul></div>'


def _midi_b(score: dict[str, Any] | None) -> str:
    if not score:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(c['category'])}</td><td>{html.escape(c['subcategory'])}</td>"
        f"<td>{c['passed']}</td><td>{c['total']}</td>"
        f"<td>{c['passed'] / max(c['total'], 1):.2%}</td></tr>"
        for c in score["categories"]
    )
    overall = score["passed"] / max(score["total"], 1)
    return (
        '<h2>MIDI-B score</h2><table id="midi-b"><thead><tr><th>category</th>'
        "<th>subcategory</th><th>passed</th><th>total</th><th>score</th></tr></thead>"
        f"<tbody>{rows}<tr><td><b>all</b></td><td></td><td>{score['passed']}</td>"
        f'<td>{score["total"]}</td><td id="midi-b-score"><b>{overall:.2%}</b></td></tr>'
        "</tbody></table>"
    )


def render_html(summary: Any, title: str = "idiscore verify") -> str:
    """The report of ``summary`` (a :class:`~idiscore.verify.runner.VerifySummary` run with
    ``keep_results=True``) as one HTML document."""
    files = [_file_record(result) for result in summary.results or ()]
    payload = json.dumps({"files": files}, ensure_ascii=True).replace("</", "<\\/")
    record = summary.record()
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in summary.set_problems)
    total, before, after = summary.references
    verdict = "clean" if summary.clean else "NOT clean"
    header_cells = "".join(
        f'<th data-key="{key}">{key}</th>'
        for key in ("status", "input", "output", "leaks", "kept", "problems", "values", "seconds")
    )
    options = "".join(
        f'<option value="{status}">{html.escape(label)}</option>'
        for status, label in _STATUS_TEXT.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_POLICY}">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}: <span id="verdict">{verdict}</span></h1>
<div class="muted">{summary.total} files verified in {record["seconds"]} s.
No element value appears in this report; the <i>before</i> thumbnails show original pixels.</div>
{_cards(summary)}
<div class="cards">
{_classes("Leaks by class", dict(summary.leak_classes), "leak-classes")}
{_classes("Kept by option, by class", dict(summary.kept_classes), "kept-classes")}
<div><b>References</b><ul><li>total: <span id="refs-total">{total}</span></li>
<li>resolved in the input set: {before}</li>
<li>resolved in the output set: <span id="refs-resolved">{after}</span></li></ul></div>
</div>
<div id="set-problems">{"<b>Output set</b><ul>" + problems + "</ul>" if problems else ""}</div>
{_midi_b(summary.midi_b)}
<h2>Files (<span id="shown">0</span> shown)</h2>
<div class="controls"><input id="filter" placeholder="filter by path, class or element">
<select id="status-filter"><option value="">every status</option>{options}</select></div>
<table id="files"><thead><tr>{header_cells}</tr></thead><tbody></tbody></table>
<script type="application/json" id="verify-data">{payload}</script>
<script>{_JS}</script>
</body></html>
"""


def write_html(summary: Any, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_html` to ``path`` (owner-only: its thumbnails show originals)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render_html(summary))
    return target
