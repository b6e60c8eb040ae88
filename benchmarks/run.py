"""idiscore against its floor (plain pydicom read + write), measured in one run.

    .venv/bin/python benchmarks/run.py                      # 1,000 files, 5 repetitions
    .venv/bin/python benchmarks/run.py --files 50 --repeat 3
    .venv/bin/python benchmarks/run.py --scaling 10000      # + a 10,000-file batch

Every measurement runs in a fresh child process (``run.py --child SPEC``), so each peak RSS
is that variant's own: the child reads its high-water mark from ``/proc/self/status``
(``VmHWM``) -- ``ru_maxrss`` of an exec'ed child also counts its parent's memory at fork
time, so it is not used for in-process variants. The CLI runs under a small wrapper child
whose ``RUSAGE_CHILDREN`` high-water mark is the peak of the largest CLI process (the
wrapper's own few MB cannot raise it); the wrapper also samples the PSS of the whole CLI
process tree. Repetitions are interleaved: repetition 1 runs every variant once, then
repetition 2, and so on; each figure is the median over repetitions. Within a repetition
the in-process variants take turns block by block (each in its own child, driven over a
pipe), and each CLI variant runs twice, A B B A; CLI outputs are timed as they appear
(inotify) for the steady-state throughput.

See ``benchmarks/README.md`` for what every figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import select
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_PATH = HERE / "results.md"
PIXEL_DATA = 0x7FE00010
DEFER_SIZE = "1 MB"
MB = 1_000_000  # every size and memory figure is in MB = 10**6 bytes
KEY = "bench"
CHILD_TIMEOUT = 3600
#: in-process batches are run in this many blocks, the variants taking turns
BLOCKS = 10

TARGET_CORE_RATIO = 1.10
TARGET_WORKER_SPEEDUP = 1.7
TARGET_MULTIFRAME_MB = 100.0
TARGET_DRIFT = 0.15
#: windows of the per-file trend (see _trend and _window_size)
TREND_WINDOWS = 10
#: ... but at least this many when windows are rounded to whole patients
MIN_WINDOWS = 5
#: CT slices of one patient in the corpus (corpus.SLICES_PER_SERIES * SERIES_PER_STUDY)
PATIENT_FILES = 200
TARGET_RSS_GROWTH_MB = 20.0


# -- measurements inside a child process -------------------------------------------------


class _Memory:
    """The current RSS and the high-water mark of this process, from /proc."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        try:
            self._statm: Any = open("/proc/self/statm", "rb")  # noqa: SIM115 (kept open)
        except OSError:
            self._statm = None

    def rss(self) -> int:
        """Resident set size in bytes now (0 where /proc is missing)."""
        if self._statm is None:
            return 0
        self._statm.seek(0)
        return int(self._statm.read().split()[1]) * self._page

    @staticmethod
    def peak() -> int:
        """Peak resident set size of this process in bytes (VmHWM; ru_maxrss elsewhere)."""
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def make_core() -> tuple[Any, str]:
    """The default core, or the default profile without bouncers if those are missing."""
    os.environ.setdefault("IDISCORE_KEY", KEY)
    try:
        from idiscore.defaults import create_default_core

        return create_default_core(), "create_default_core()"
    except ImportError as exc:
        from idiscore.core import Core
        from idiscore.defaults import default_profile
        from idiscore.insertions import StandardInsertions

        core = Core(default_profile(), insertions=[StandardInsertions()])
        return core, (
            "Core(default_profile(), insertions=[StandardInsertions()]), no bouncers: "
            f"create_default_core() failed with {type(exc).__name__}: {exc}"
        )


def _child_inprocess(spec: dict[str, Any]) -> dict[str, Any]:
    """Read + (de-identify) + write the files of the list, block by block on request.

    After the warm-up the child prints ``READY`` and reads commands from stdin:
    ``RUN START END`` processes files START to END-1 and answers ``DONE SECONDS``;
    ``FINISH`` ends the loop. The parent so interleaves the variants block by block while
    each keeps its own process (its own heap, its own high-water mark). The result has the
    time per file and the RSS after every file; ``seconds`` is the sum of the blocks.
    """
    from pydicom import dcmread

    memory = _Memory()
    paths = Path(spec["paths_file"]).read_text().splitlines()
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    core, deidentify = _variant_core(spec, result)

    def process(path: str, name: str) -> None:
        deidentify(dcmread(path)).save_as(name)

    if spec["variant"] == "core-file":

        def process(path: str, name: str) -> None:
            core.deidentify_file(path, name)

    # one untimed file first: lazy imports and first-use caches, for every variant alike
    warmup = out_dir / "warmup.dcm"
    process(paths[0], str(warmup))
    warmup.unlink()
    result["baseline_bytes"] = memory.rss()

    names = [str(out_dir / os.path.basename(p)) for p in paths]
    per_file: list[float] = []
    rss: list[int] = []
    clock = time.perf_counter
    total = 0.0
    print("READY", flush=True)
    for command in sys.stdin:
        words = command.split()
        if not words or words[0] == "FINISH":
            break
        first, end = int(words[1]), int(words[2])
        start = clock()
        for path, name in zip(paths[first:end], names[first:end], strict=True):
            t0 = clock()
            process(path, name)
            per_file.append(clock() - t0)
            rss.append(memory.rss())
        seconds = clock() - start
        total += seconds
        print(f"DONE {seconds!r}", flush=True)
    result["seconds"] = total
    result["peak_bytes"] = memory.peak()
    result["per_file"] = per_file
    result["rss"] = rss
    result["files"] = len(per_file)  # processed (the parent checks it is every file)
    return result


def _is_deferred(dataset: Any) -> bool:
    element = dataset.get_item(PIXEL_DATA, keep_deferred=True)
    return element is not None and element.is_raw and element.value is None


def _is_streamed(dataset: Any) -> bool:
    """True when the output's Pixel Data is streamed from the input file (not in memory)."""
    from idiscore.fileio import FileWindow

    element = dataset.get_item(PIXEL_DATA, keep_deferred=True)
    return element is not None and isinstance(element.value, FileWindow)


def _variant_core(spec: dict[str, Any], result: dict[str, Any]) -> tuple[Any, Any]:
    """The core of a core variant (noted in ``result``) and what de-identifies a dataset:
    the core's ``deidentify``, or nothing at all for the floor."""
    if spec["variant"] not in ("core", "core-file"):
        return None, lambda dataset: dataset
    core, result["core_kind"] = make_core()
    return core, core.deidentify


def _child_multiframe(spec: dict[str, Any]) -> dict[str, Any]:
    """One multi-frame file: read (maybe deferred) + (de-identify) + write, with memory steps."""
    from pydicom import dcmread

    memory = _Memory()
    out = Path(spec["out"])
    result: dict[str, Any] = {}
    core, deidentify = _variant_core(spec, result)
    deidentify(dcmread(spec["warmup"])).save_as(out)  # lazy imports, as for the CT files
    out.unlink()
    result["baseline_bytes"] = memory.rss()
    if spec["variant"] == "core-file":
        start = time.perf_counter()
        output = core.deidentify_file(spec["path"], str(out))
        result["seconds"] = time.perf_counter() - start
        result["after_read_bytes"] = result["after_deidentify_bytes"] = None
        result["output_deferred"] = _is_streamed(output)
        result["input_deferred_before"] = result["input_deferred_after"] = None
        result["peak_bytes"] = memory.peak()
        result["output_bytes"] = out.stat().st_size
        return result
    defer = DEFER_SIZE if spec["defer"] else None
    start = time.perf_counter()
    dataset = dcmread(spec["path"], defer_size=defer)
    result["after_read_bytes"] = memory.rss()
    result["input_deferred_before"] = _is_deferred(dataset)
    output = deidentify(dataset)
    result["after_deidentify_bytes"] = memory.rss()
    result["output_deferred"] = _is_deferred(output)
    result["input_deferred_after"] = _is_deferred(dataset)
    output.save_as(out)
    result["seconds"] = time.perf_counter() - start
    result["peak_bytes"] = memory.peak()
    result["output_bytes"] = out.stat().st_size
    return result


def _tree_pss(root: int) -> int:
    """PSS (RSS where PSS is unavailable) of process ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        total += _pss(pid)
    return total


def _pss(pid: int) -> int:
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            with open(f"/proc/{pid}/{name}") as handle:
                for line in handle:
                    if line.startswith(key):
                        return int(line.split()[1]) * 1024
        except OSError:
            continue
    return 0


class _OutputWatcher:
    """When each output appears under its final name in a folder (Linux inotify).

    The CLI writes a hidden temporary file and renames it into place: every rename is
    one ``IN_MOVED_TO`` event, timed here as it arrives. Watching costs the measured
    command nothing (no polling). ``times`` stays empty where inotify is unavailable.
    """

    _IN_MOVED_TO = 0x80
    _HEADER = struct.Struct("iIII")

    def __init__(self, folder: Path, start: float) -> None:
        self.times: list[float] = []
        self.available = False
        self._start = start
        self._stop = threading.Event()
        self._fd = -1
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
            if fd < 0:
                return
            if libc.inotify_add_watch(fd, os.fsencode(folder), self._IN_MOVED_TO) < 0:
                os.close(fd)
                return
        except (OSError, AttributeError):
            return
        self._fd = fd
        self.available = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if not ready:
                if self._stop.is_set():
                    return
                continue
            now = time.perf_counter() - self._start
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                continue
            offset = 0
            while offset + self._HEADER.size <= len(data):
                _wd, mask, _cookie, length = self._HEADER.unpack_from(data, offset)
                name = data[offset + self._HEADER.size : offset + self._HEADER.size + length]
                offset += self._HEADER.size + length
                if mask & self._IN_MOVED_TO and not name.startswith(b"."):
                    self.times.append(now)

    def stop(self) -> list[float]:
        """The arrival times (seconds from ``start``), once every event has been read."""
        if self.available:
            self._stop.set()
            self._thread.join()
            os.close(self._fd)
        return self.times


def _steady_rate(times: list[float], files: int) -> float | None:
    """Outputs per second between the 10th and the 90th percentile of the outputs: the
    rate of a long batch, without the command's start-up and its last files."""
    if len(times) != files or files < 20:
        return None
    first, last = files // 10, files - files // 10 - 1
    span = times[last] - times[first]
    return (last - first) / span if span > 0 else None


def _child_cli(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the CLI once; wall time, peak of its largest process, sampled PSS of its tree."""
    import resource

    out_dir = Path(spec["out_dir"])
    command = [
        spec["cli"],
        "deidentify",
        spec["input"],
        "-o",
        str(out_dir),
        "--workers",
        str(spec["workers"]),
        "--report",
        spec["report"],
    ]
    Path(spec["report"]).unlink(missing_ok=True)
    log = Path(spec["report"]).with_suffix(".log")
    out_dir.mkdir(parents=True, exist_ok=True)  # (an empty output folder is accepted)
    with open(log, "wb") as sink:
        start = time.perf_counter()
        watcher = _OutputWatcher(out_dir, start)
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        peak_tree = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.25):
                with contextlib.suppress(OSError):
                    peak_tree[0] = max(peak_tree[0], _tree_pss(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = process.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        arrivals = sorted(watcher.stop())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    outputs = [p for p in out_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]
    result: dict[str, Any] = {
        "seconds": seconds,
        "peak_bytes": usage.ru_maxrss * 1024,
        "tree_pss_bytes": peak_tree[0],
        "wrapper_peak_bytes": _Memory.peak(),
        "returncode": returncode,
        "outputs": len(outputs),
        "files": spec["files"],
        "output_times": arrivals if watcher.available else None,
    }
    if returncode != 0:
        result["log_tail"] = log.read_text(errors="replace")[-800:]
    return result


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    kind = spec["kind"]
    if kind == "inprocess":
        result = _child_inprocess(spec)
    elif kind == "multiframe":
        result = _child_multiframe(spec)
    else:
        result = _child_cli(spec)
    print("RESULT " + json.dumps(result))
    return 0


# -- the parent: corpus, scheduling, summary ---------------------------------------------


def _child_env() -> dict[str, str]:
    return dict(os.environ, IDISCORE_KEY=KEY, PYTHONHASHSEED="0")


def run_child(spec: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Run one measurement in a fresh process; its result, or {"error": ...}."""
    spec_path = scratch / "spec.json"
    spec_path.write_text(json.dumps(spec))
    try:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
            capture_output=True,
            text=True,
            env=_child_env(),
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
    return {"error": f"exit {done.returncode}: " + " | ".join(tail)}


class _BlockChild:
    """An in-process variant's child process, driven block by block (see _child_inprocess)."""

    def __init__(self, name: str, spec: dict[str, Any], scratch: Path) -> None:
        spec_path = scratch / f"spec-{name}.json"
        spec_path.write_text(json.dumps(spec))
        self.log = scratch / f"child-{name}.log"
        self.error: str | None = None
        self._pending = b""  # read from the child's stdout, not yet a whole line
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                bufsize=0,
                env=_child_env(),
            )

    def ready(self) -> None:
        self._expect("READY")

    def run(self, first: int, end: int) -> None:
        self.start(first, end)
        self.wait()

    def start(self, first: int, end: int) -> None:
        """Order files ``first`` to ``end - 1``; :meth:`wait` waits until they are done."""
        self._send(f"RUN {first} {end}")

    def wait(self) -> None:
        self._expect("DONE ")

    def finish(self) -> dict[str, Any]:
        """The child's result (or ``{"error": ...}``); the child has ended."""
        self._send("FINISH")
        text = self._expect("RESULT ")
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.error is not None or text is None:
            return {"error": self.error or "no result"}
        result: dict[str, Any] = json.loads(text)
        return result

    def _send(self, command: str) -> None:
        if self.error is not None or self.process.stdin is None:
            return
        try:
            self.process.stdin.write(command.encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            self._fail()

    def _expect(self, prefix: str) -> str | None:
        """The rest of the child's next line that starts with ``prefix`` (other lines,
        should anything else print, are skipped)."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + CHILD_TIMEOUT
        while self.error is None:
            line, newline, rest = self._pending.partition(b"\n")
            if newline:
                self._pending = rest
                text = line.decode(errors="replace")
                if text.startswith(prefix):
                    return text[len(prefix) :].strip()
                continue
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(0.0, remaining))
            if not ready:
                self.process.kill()
                self.error = f"timed out after {CHILD_TIMEOUT} s"
                break
            data = os.read(stdout.fileno(), 1 << 16)
            if not data:
                self._fail()
                break
            self._pending += data
        return None

    def _fail(self) -> None:
        returncode = self.process.wait()
        tail = self.log.read_text(errors="replace").strip().splitlines()[-6:]
        self.error = f"exit {returncode}: " + " | ".join(tail)


class _ChildPair:
    """Two children of one variant working at once, each on half of every block.

    Against the same variant in one process it shows what a second process gains on this
    machine: the ceiling of any 2-worker speed-up here. ``seconds`` is the parent's clock
    from handing out a block until both halves are done, summed over the blocks.
    """

    def __init__(self, name: str, spec: dict[str, Any], scratch: Path) -> None:
        self.children = [
            _BlockChild(f"{name}-{i}", dict(spec, out_dir=f"{spec['out_dir']}-{i}"), scratch)
            for i in (0, 1)
        ]
        self.seconds = 0.0

    def ready(self) -> None:
        for child in self.children:
            child.ready()

    def run(self, first: int, end: int) -> None:
        middle = (first + end) // 2
        start = time.perf_counter()
        for child, (a, b) in zip(self.children, ((first, middle), (middle, end)), strict=True):
            child.start(a, b)
        for child in self.children:
            child.wait()
        self.seconds += time.perf_counter() - start

    def finish(self) -> dict[str, Any]:
        results = [child.finish() for child in self.children]
        failed = [r for r in results if not _ok(r)]
        if failed:
            return failed[0]
        return {
            "seconds": self.seconds,
            "peak_bytes": max(r["peak_bytes"] for r in results),
            "baseline_bytes": max(r["baseline_bytes"] for r in results),
            "files": sum(r["files"] for r in results),
        }


def _blocks(count: int) -> list[tuple[int, int]]:
    """``range(count)`` cut into at most BLOCKS consecutive (start, end) blocks."""
    size = max(1, -(-count // BLOCKS))
    return [(first, min(first + size, count)) for first in range(0, count, size)]


def cli_path() -> str | None:
    """The ``idiscore`` executable if ``idiscore --help`` works and offers ``deidentify``."""
    candidate = Path(sys.executable).parent / "idiscore"
    path = str(candidate) if candidate.exists() else shutil.which("idiscore")
    if path is None:
        return None
    try:
        done = subprocess.run(
            [path, "deidentify", "--help"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or "--workers" not in done.stdout:
        return None
    return path


def byte_compile_idiscore() -> str:
    """Compile idiscore's modules to bytecode, as ``pip install`` of a wheel does.

    An editable install leaves the compiling to the first import, and with
    ``PYTHONDONTWRITEBYTECODE=1`` (set on some CI machines) every CLI start would compile all
    of idiscore's modules again (about 0.2 s here), which no installed copy pays. Returns a
    line for the report.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("idiscore")
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        return "idiscore not found"
    folder = folders[0]
    if not os.access(folder, os.W_OK):
        return f"not compiled ({folder} is read-only; an installed copy is compiled already)"
    ok = compileall.compile_dir(folder, quiet=1)
    return f"compiled before measuring ({folder})" if ok else f"compiling {folder} failed"


def _window_size(files: int) -> int:
    """Files per trend window: a tenth of the batch (TREND_WINDOWS windows), rounded up to
    whole patients of the corpus when the batch holds at least MIN_WINDOWS of them.

    The first series of a patient costs more than the second (new names, new UIDs: the
    caches are cold); windows cut across patients would see that as a saw-tooth, and a
    trend drawn through it would depend on where the batch ends in it.
    """
    size = max(1, files // TREND_WINDOWS)
    if files >= MIN_WINDOWS * PATIENT_FILES:
        size = -(-size // PATIENT_FILES) * PATIENT_FILES
    return size


def _window_medians(per_file: list[float]) -> list[float]:
    """The median time per file of each whole window (see _window_size)."""
    size = _window_size(len(per_file))
    count = len(per_file) // size
    if count < 2:
        return []
    return [statistics.median(per_file[i * size : (i + 1) * size]) for i in range(count)]


def _change(values: list[float]) -> float:
    """The rise of a series from its first point to its last, relative to its median,
    robustly: the Theil-Sen slope (the median of the slopes between every two points). A
    slow phase of the machine that hits one or two points barely moves it; a steady growth
    does."""
    count = len(values)
    if count < 2:
        return float("nan")
    slopes = [(values[j] - values[i]) / (j - i) for i in range(count) for j in range(i + 1, count)]
    return statistics.median(slopes) * (count - 1) / statistics.median(values)


def _trend(per_file: list[float]) -> float:
    """The change of the time per file over a batch (see _change)."""
    return _change(_window_medians(per_file))


def _relative_trend(per_file: list[float], reference: list[float]) -> float:
    """The change over the batch of the time per file relative to ``reference``'s (the
    floor of the same repetition) at the same position: what the operating system does to
    every writer as a batch goes on (it slows the floor as much) cancels out."""
    ours, theirs = _window_medians(per_file), _window_medians(reference)
    if not ours or len(ours) != len(theirs):
        return float("nan")
    return _change([a / b for a, b in zip(ours, theirs, strict=True)])


def _rotated(items: list[Any], repetition: int) -> list[Any]:
    """``items`` starting at ``repetition`` (mod their number): from one repetition to the
    next every variant moves one place, so none always runs after the same other one."""
    if not items:
        return []
    shift = repetition % len(items)
    return items[shift:] + items[:shift]


def _remove_outputs(*folders: Path) -> None:
    """Delete a run's outputs and wait until the disk has taken the deletion (and whatever
    the run left unwritten), so that the next run does not pay for it."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    os.sync()


def _warm_page_cache(paths: list[Path]) -> None:
    """Read every input once so that no variant pays for the first read from disk."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


_NAN = float("nan")


def _ok(result: dict[str, Any]) -> bool:
    return "error" not in result and result.get("returncode", 0) == 0


class Bench:
    """Schedules the measurements and collects their results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scratch = Path(tempfile.mkdtemp(prefix="idiscore-bench-"))
        self.results: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = []
        self.core_kind = "?"

    def record(self, name: str, result: dict[str, Any], rep: int) -> None:
        result["rep"] = rep
        times = result.get("output_times")
        if times is not None:
            result["steady"] = _steady_rate(times, result["files"])
            result["first_output"] = times[0] if times else None
        self.results.setdefault(name, []).append(result)
        if "core_kind" in result:
            self.core_kind = result["core_kind"]
        if _ok(result):
            print(
                f"    {result['seconds']:.2f} s, peak RSS {result['peak_bytes'] / MB:.0f} MB",
                file=sys.stderr,
            )
        else:
            print(f"    failed: {_failure(result)}", file=sys.stderr)

    def fresh_dir(self, name: str) -> Path:
        path = self.scratch / name
        if path.exists():
            shutil.rmtree(path)
        return path

    def run(self) -> None:
        import corpus

        assert corpus.SLICES_PER_SERIES * corpus.SERIES_PER_STUDY == PATIENT_FILES
        args = self.args
        t_start = time.perf_counter()
        self.load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
        paths = corpus.ensure_ct(args.files)
        self.input_bytes = sum(p.stat().st_size for p in paths)
        self.bytecode = byte_compile_idiscore()
        cli = None if args.no_cli else cli_path()
        self.cli_available = cli is not None
        input_dir = corpus.ensure_ct_folder(args.files) if cli else None
        multiframe = None if args.no_multiframe else corpus.ensure_multiframe()
        scaling_paths = corpus.ensure_ct(args.scaling) if args.scaling else None
        paths_file = self.scratch / "paths.txt"
        paths_file.write_text("\n".join(str(p) for p in paths))
        _warm_page_cache(paths)

        inprocess: list[tuple[str, dict[str, Any]]] = [
            (name, {"kind": "inprocess", "variant": name, "paths_file": str(paths_file)})
            for name in ("floor", "core", "core-file")
        ]
        if cli:  # the machine's own 2-process ceiling, for the workers target
            spec = {"kind": "inprocess", "variant": "floor", "paths_file": str(paths_file)}
            inprocess.append(("floor-x2", dict(spec, processes=2)))
        cli_variants: list[tuple[str, dict[str, Any]]] = []
        if cli:
            for workers in (1, 2):
                spec = {
                    "kind": "cli",
                    "cli": cli,
                    "input": str(input_dir),
                    "workers": workers,
                    "files": args.files,
                }
                cli_variants.append((f"cli{workers}", spec))
        for rep in range(args.repeat):
            label = f"[{rep + 1}/{args.repeat}]"
            self.run_blocks(inprocess, len(paths), rep, label)
            # each CLI variant twice, A B B A: a drift of the machine during the
            # repetition cancels out in the mean of each variant's two runs
            order = _rotated(cli_variants, rep)
            for name, spec in order + order[::-1]:
                out = self.fresh_dir("out")
                spec = dict(spec, out_dir=str(out), report=str(self.scratch / "report.json"))
                print(f"{label} {name} ...", file=sys.stderr, flush=True)
                self.record(name, run_child(spec, self.scratch), rep)
                _remove_outputs(out)

        if multiframe is not None:
            self.multiframe_bytes = multiframe.stat().st_size
            _warm_page_cache([multiframe])
            mf_variants = [
                ("mf-floor", "floor", False),
                ("mf-core", "core", False),
                ("mf-floor-deferred", "floor", True),
                ("mf-core-deferred", "core", True),
                ("mf-core-file", "core-file", False),
            ]
            for rep in range(args.repeat):
                for name, variant, defer in _rotated(mf_variants, rep):
                    out = self.fresh_dir("mf")
                    out.mkdir()
                    spec = {
                        "kind": "multiframe",
                        "variant": variant,
                        "defer": defer,
                        "path": str(multiframe),
                        "warmup": str(paths[0]),
                        "out": str(out / "out.dcm"),
                    }
                    print(f"[{rep + 1}/{args.repeat}] {name} ...", file=sys.stderr, flush=True)
                    self.record(name, run_child(spec, self.scratch), rep)
                    _remove_outputs(out)

        if scaling_paths is not None:
            scaling_file = self.scratch / "scaling.txt"
            scaling_file.write_text("\n".join(str(p) for p in scaling_paths))
            _warm_page_cache(scaling_paths)
            variants = [
                (name, {"kind": "inprocess", "variant": variant, "paths_file": str(scaling_file)})
                for name, variant in (("scaling-floor", "floor"), ("scaling-core", "core-file"))
            ]
            self.run_blocks(variants, len(scaling_paths), 0, f"[scaling {args.scaling}]")

        self.load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
        self.wall = time.perf_counter() - t_start
        shutil.rmtree(self.scratch, ignore_errors=True)

    def run_blocks(
        self, variants: list[tuple[str, dict[str, Any]]], count: int, rep: int, label: str
    ) -> None:
        """One repetition of in-process variants over ``count`` files, block by block.

        Every variant runs in its own fresh child; the children take turns for each
        block of files, the order rotating from block to block and from repetition to
        repetition, so a slow phase of the machine hits every variant alike.
        """
        names = ", ".join(name for name, _ in variants)
        print(f"{label} {names}, block by block ...", file=sys.stderr, flush=True)
        folders = {name: self.fresh_dir(f"out-{name}") for name, _ in variants}
        children: dict[str, _BlockChild | _ChildPair] = {}
        for name, spec in variants:
            kind = _ChildPair if spec.get("processes") == 2 else _BlockChild
            children[name] = kind(name, dict(spec, out_dir=str(folders[name])), self.scratch)
        for child in children.values():
            child.ready()
        for index, (first, end) in enumerate(_blocks(count)):
            for name, _ in _rotated(variants, rep + index):
                children[name].run(first, end)
        for name, _ in variants:
            print(f"  {name}:", end="", file=sys.stderr)
            result = children[name].finish()
            if _ok(result) and result["files"] != count:
                result = {"error": f"processed {result['files']} of {count} files"}
            self.record(name, result, rep)
        _remove_outputs(*folders.values())
        for folder in folders.values():  # a pair's two folders
            for half in (0, 1):
                shutil.rmtree(f"{folder}-{half}", ignore_errors=True)

    # -- summaries --------------------------------------------------------------------

    def ok_results(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.results.get(name, []) if _ok(r)]

    def paired_ratio(self, name: str, reference: str, key: str = "seconds") -> float:
        """Median over repetitions of name/reference, pairing the same repetition (the
        mean of a variant's runs in a repetition when it ran more than once)."""
        ours, theirs = self.per_rep(name, key), self.per_rep(reference, key)
        ratios = [ours[rep] / theirs[rep] for rep in ours if theirs.get(rep)]
        return _median(ratios)

    def per_rep(self, name: str, key: str) -> dict[int, float]:
        """Repetition -> the mean of ``key`` over the variant's good runs in it."""
        values: dict[int, list[float]] = {}
        for result in self.ok_results(name):
            if result.get(key) is not None:
                values.setdefault(result["rep"], []).append(result[key])
        return {rep: statistics.fmean(found) for rep, found in values.items()}

    def ct_rows(self) -> list[dict[str, Any]]:
        labels = {
            "floor": "floor: pydicom dcmread + save_as, 1 process",
            "core-file": "default core, 1 process: `core.deidentify_file(input, output)`",
            "core": "default core, 1 process: `core.deidentify(dcmread(input)).save_as(output)`",
            "floor-x2": "floor in 2 processes at once, half of every block each",
            "cli1": "CLI `idiscore deidentify --workers 1`",
            "cli2": "CLI `idiscore deidentify --workers 2`",
        }
        floor = self.ok_results("floor")
        floor_peak = _median([r["peak_bytes"] for r in floor])
        rows = []
        for name, label in labels.items():
            if name == "floor-x2" and name not in self.results:
                continue
            if name.startswith("cli") and not self.cli_available:
                rows.append({"name": name, "label": label, "na": "CLI not available"})
                continue
            runs = self.ok_results(name)
            if not runs:
                failure = "failed: " + _failure(self.results[name][0])
                rows.append({"name": name, "label": label, "na": failure})
                continue
            seconds = [r["seconds"] for r in runs]
            median = _median(seconds)
            peak = _median([r["peak_bytes"] for r in runs])
            row = {
                "name": name,
                "label": label,
                "seconds": median,
                "spread": (min(seconds), max(seconds)),
                "files_s": self.args.files / median,
                "mb_s": self.input_bytes / MB / median,
                "time_ratio": self.paired_ratio(name, "floor"),
                "peak_mb": peak / MB,
                "peak_ratio": peak / floor_peak if floor_peak else float("nan"),
                "runs": len(runs),
            }
            if "baseline_bytes" in runs[0]:
                row["baseline_mb"] = _median([r["baseline_bytes"] for r in runs]) / MB
            steady = [r["steady"] for r in runs if r.get("steady")]
            if steady:
                row["steady_files_s"] = _median(steady)
                row["first_output_s"] = _median(
                    [r["first_output"] for r in runs if r.get("first_output") is not None]
                )
            if "tree_pss_bytes" in runs[0]:
                row["tree_mb"] = _median([r["tree_pss_bytes"] for r in runs]) / MB
                short = [r for r in runs if r["outputs"] != r["files"]]
                if short:
                    row["warning"] = f"{short[0]['outputs']} outputs for {short[0]['files']} files"
            rows.append(row)
        return rows

    def multiframe_rows(self) -> list[dict[str, Any]]:
        labels = {
            "mf-floor": "floor: dcmread + save_as",
            "mf-core": "default core: dcmread + deidentify + save_as",
            "mf-floor-deferred": f"floor, dcmread(defer_size='{DEFER_SIZE}')",
            "mf-core-deferred": f"default core, dcmread(defer_size='{DEFER_SIZE}')",
            "mf-core-file": "default core: `core.deidentify_file(input, output)`",
        }
        rows = []
        for name, label in labels.items():
            runs = self.ok_results(name)
            if not runs:
                if name in self.results:
                    failure = "failed: " + _failure(self.results[name][0])
                    rows.append({"name": name, "label": label, "na": failure})
                continue
            rows.append(
                {
                    "name": name,
                    "label": label,
                    "seconds": _median([r["seconds"] for r in runs]),
                    "time_ratio": self.paired_ratio(name, "mf-floor"),
                    "peak_mb": _median([r["peak_bytes"] for r in runs]) / MB,
                    "baseline_mb": _median([r["baseline_bytes"] for r in runs]) / MB,
                    "read_mb": _median_mb([r["after_read_bytes"] for r in runs]),
                    "deid_mb": _median_mb([r["after_deidentify_bytes"] for r in runs]),
                    "output_deferred": runs[0]["output_deferred"],
                    "input_deferred": (
                        runs[0]["input_deferred_before"],
                        runs[0]["input_deferred_after"],
                    ),
                }
            )
        return rows

    def scaling_rows(self) -> list[dict[str, Any]]:
        if self.args.scaling:
            sources = [("core", "scaling-core"), ("floor (reference)", "scaling-floor")]
        else:
            sources = [("core", "core-file"), ("floor (reference)", "floor")]
        rows = []
        for label, name in sources:
            runs = self.ok_results(name)
            if not runs:
                continue
            files = len(runs[0]["per_file"])
            window = _window_size(files)
            if files < 20:
                rows.append({"label": label, "na": f"needs at least 20 files (got {files})"})
                continue
            references = (
                self.results.get("scaling-floor" if self.args.scaling else "floor", [])
                if label == "core"
                else []
            )
            relative = [
                _relative_trend(r["per_file"], f["per_file"])
                for r, f in zip(self.results.get(name, []), references, strict=False)
                if _ok(r) and _ok(f) and len(r["per_file"]) == len(f["per_file"])
            ]
            drifts, trends, growths, firsts, lasts = [], [], [], [], []
            for r in runs:
                first = statistics.median(r["per_file"][:window])
                last = statistics.median(r["per_file"][-window:])
                firsts.append(first)
                lasts.append(last)
                drifts.append(last / first)
                trends.append(_trend(r["per_file"]))
                growths.append((max(r["rss"][-window:]) - max(r["rss"][:window])) / MB)
            rows.append(
                {
                    "label": label,
                    "files": files,
                    "window": window,
                    "runs": len(runs),
                    "first_ms": _median(firsts) * 1e3,
                    "last_ms": _median(lasts) * 1e3,
                    "drift": _median(drifts),
                    "trend": _median(trends),
                    "relative_trend": _median(relative) if relative else float("nan"),
                    "worst_trend": max(trends, key=abs),
                    "growth_mb": _median(growths),
                    "worst_drift": max(drifts, key=lambda d: abs(d - 1)),
                    "worst_growth": max(growths),
                }
            )
        return rows

    def targets(self) -> list[tuple[str, str, str, str]]:
        """(target, measured, threshold, verdict) rows."""
        out: list[tuple[str, str, str, str]] = []
        ct = {r["name"]: r for r in self.ct_rows()}
        core = ct.get("core-file")
        if core and "time_ratio" in core:
            ratio = core["time_ratio"]
            out.append(
                (
                    "default core, 1 process (`deidentify_file`): wall time vs floor",
                    f"{ratio:.2f}x",
                    f"<= {TARGET_CORE_RATIO:.2f}x",
                    _verdict(ratio <= TARGET_CORE_RATIO),
                )
            )
        threshold = f">= {TARGET_WORKER_SPEEDUP:.1f}x"
        steady = self.paired_ratio("cli2", "cli1", "steady") if self.cli_available else _NAN
        whole = self.paired_ratio("cli1", "cli2") if self.cli_available else _NAN
        if steady == steady:  # not NaN: both CLI variants ran and were watched
            measured, verdict = f"{steady:.2f}x", _verdict(steady >= TARGET_WORKER_SPEEDUP)
        elif self.cli_available:
            measured, verdict = "CLI runs failed or not watched", "n/a"
        else:
            measured, verdict = "CLI not available", "n/a"
        out.append(
            (
                "CLI: 2 workers vs 1 worker, steady-state throughput (outputs per second "
                "from the 10th to the 90th percentile output)",
                measured,
                threshold,
                verdict,
            )
        )
        ceiling = self.paired_ratio("floor", "floor-x2") if self.cli_available else _NAN
        if ceiling == ceiling:
            out.append(
                (
                    "this machine's ceiling: plain pydicom read + write, 2 processes vs 1 "
                    "(same blocks; for information)",
                    f"{ceiling:.2f}x",
                    "-",
                    "info",
                )
            )
        if whole == whole:
            out.append(
                (
                    f"CLI: 2 workers vs 1 worker, whole command on {self.args.files} files "
                    "(start-up included; for information)",
                    f"{whole:.2f}x",
                    "-",
                    "info",
                )
            )
        for row in self.multiframe_rows():
            if "peak_mb" in row and row["name"] == "mf-core-file":
                out.append(
                    (
                        f"multi-frame peak RSS, {row['label']}",
                        f"{row['peak_mb']:.0f} MB",
                        f"<= {TARGET_MULTIFRAME_MB:.0f} MB",
                        _verdict(row["peak_mb"] <= TARGET_MULTIFRAME_MB),
                    )
                )
        for row in self.scaling_rows():
            if row["label"] != "core" or "drift" not in row:
                continue
            trend = row["relative_trend"]
            out.append(
                (
                    f"core per-file time relative to the floor's, trend over the batch of "
                    f"{row['files']} files",
                    f"{trend * 100:+.1f} %",
                    f"within +-{TARGET_DRIFT * 100:.0f} %",
                    _verdict(abs(trend) <= TARGET_DRIFT) if trend == trend else "n/a",
                )
            )
            out.append(
                (
                    f"core RSS growth over the batch of {row['files']} files",
                    f"{row['growth_mb']:+.1f} MB",
                    f"< {TARGET_RSS_GROWTH_MB:.0f} MB",
                    _verdict(row["growth_mb"] < TARGET_RSS_GROWTH_MB),
                )
            )
        return out

    # -- output -------------------------------------------------------------------------

    def machine(self) -> list[tuple[str, str]]:
        import numpy
        import pydicom

        try:
            from importlib.metadata import version

            idiscore_version = version("idiscore")
        except Exception:
            idiscore_version = "?"
        cpu = platform.processor() or "?"
        try:
            with open("/proc/cpuinfo") as info:
                for line in info:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        commit = _git("rev-parse", "--short", "HEAD") or "?"
        dirty = _git("status", "--porcelain", "--untracked-files=all", "src")
        if dirty:
            commit += f" (+ {len(dirty.splitlines())} uncommitted change(s) under src/)"
        loads = ""
        if self.load_before and self.load_after:
            loads = f"{self.load_before[0]:.2f} before, {self.load_after[0]:.2f} after"
        return [
            ("date", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
            ("command", self.command()),
            (
                "machine",
                f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
            ),
            ("load average (1 min)", loads or "?"),
            (
                "versions",
                f"Python {platform.python_version()}, pydicom {pydicom.__version__}, "
                f"numpy {numpy.__version__}, idiscore {idiscore_version}",
            ),
            ("idiscore commit", commit),
            ("idiscore bytecode", getattr(self, "bytecode", "?")),
            ("core", self.core_kind),
            (
                "corpus",
                f"{self.args.files} CT slices 512x512 int16, "
                f"{self.input_bytes / MB:.1f} MB in total"
                + (
                    f"; multi-frame {self.multiframe_bytes / MB:.1f} MB"
                    if hasattr(self, "multiframe_bytes")
                    else ""
                ),
            ),
            ("repetitions", f"{self.args.repeat}, interleaved; figures are medians"),
            ("benchmark wall time", f"{self.wall:.0f} s"),
        ]

    def command(self) -> str:
        python = Path(sys.executable)
        try:
            python_text = str(python.relative_to(Path.cwd()))
        except ValueError:
            python_text = str(python)
        try:
            script = str(Path(__file__).resolve().relative_to(Path.cwd()))
        except ValueError:
            script = str(Path(__file__).resolve())
        return " ".join(shlex.quote(a) for a in [python_text, script, *sys.argv[1:]])

    def markdown(self) -> str:
        lines = ["# idiscore benchmark results", ""]
        lines += [f"- **{key}**: {value}" for key, value in self.machine()]
        lines += [
            "",
            "## Targets",
            "",
            "| target | measured | threshold | result |",
            "|---|---:|---:|:---:|",
        ]
        lines += [
            f"| {t} | {m} | {th} | {f'**{v}**' if v in ('PASS', 'FAIL') else v} |"
            for t, m, th, v in self.targets()
        ]
        lines += [
            "",
            f"## CT slices ({self.args.files} files, {self.input_bytes / MB:.1f} MB)",
            "",
            "| variant | time (s) | min - max (s) | files/s | MB/s | time x floor "
            "| peak RSS (MB) | RSS x floor |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in self.ct_rows():
            if "na" in row:
                lines.append(f"| {row['label']} | {row['na']} | | | | | | |")
                continue
            lo, hi = row["spread"]
            lines.append(
                f"| {row['label']} | {row['seconds']:.2f} | {lo:.2f} - {hi:.2f} "
                f"| {row['files_s']:.1f} | {row['mb_s']:.1f} | {row['time_ratio']:.2f} "
                f"| {_rss_text(row)} | {row['peak_ratio']:.2f} |"
            )
        lines += ["", *self.ct_notes()]
        cli_rows = [row for row in self.ct_rows() if "steady_files_s" in row]
        if cli_rows:
            lines += [
                "",
                "## CLI over the batch",
                "",
                "| variant | whole command (s) | first output after (s) "
                "| steady-state files/s | steady-state MB/s |",
                "|---|---:|---:|---:|---:|",
            ]
            per_file_mb = self.input_bytes / MB / self.args.files
            lines += [
                f"| {row['label']} | {row['seconds']:.2f} | {row['first_output_s']:.2f} "
                f"| {row['steady_files_s']:.1f} | {row['steady_files_s'] * per_file_mb:.1f} |"
                for row in cli_rows
            ]
            lines += [
                "",
                "Each output is timed as it is renamed into place (inotify on the output "
                "folder). Steady state: outputs per second from the 10th to the 90th "
                "percentile output, which leaves out the command's start-up (interpreter, "
                "imports, core, workers) and its last files. Medians over all runs; the "
                "target ratio pairs the two variants of the same repetition (the mean of "
                "each variant's two runs in it).",
            ]
        mf = self.multiframe_rows()
        if mf:
            lines += [
                "",
                f"## Multi-frame file ({self.multiframe_bytes / MB:.1f} MB, no pixel rule)",
                "",
                "| variant | time (s) | time x floor | peak RSS (MB) | RSS after imports "
                "| after read | after deidentify | PixelData deferred in output "
                "| input still deferred |",
                "|---|---:|---:|---:|---:|---:|---:|:---:|:---:|",
            ]
            for row in mf:
                if "na" in row:
                    lines.append(f"| {row['label']} | {row['na']} | | | | | | | |")
                    continue
                before, after = row["input_deferred"]
                lines.append(
                    f"| {row['label']} | {row['seconds']:.2f} | {row['time_ratio']:.2f} "
                    f"| {row['peak_mb']:.0f} | {row['baseline_mb']:.0f} | {_mb(row['read_mb'])} "
                    f"| {_mb(row['deid_mb'])} | {_yes(row['output_deferred'])} "
                    f"| {_yes(after) if before else 'n/a'} |"
                )
            lines += [
                "",
                "RSS columns are the process RSS right after each step (MB); "
                "'peak' is the high-water mark of the whole run, write included.",
            ]
        scaling = self.scaling_rows()
        if scaling:
            lines += [
                "",
                "## Time per file and memory over one long batch",
                "",
                "| variant | files | window | first window (ms/file) "
                "| last window (ms/file) | last / first | trend over the batch "
                "| trend relative to the floor | RSS growth (MB) "
                "| worst repetition (last / first, trend, RSS) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            ]
            for row in scaling:
                if "na" in row:
                    lines.append(f"| {row['label']} | {row['na']} | | | | | | | | |")
                    continue
                relative = row["relative_trend"]
                lines.append(
                    f"| {row['label']} | {row['files']} | {row['window']} "
                    f"| {row['first_ms']:.2f} | {row['last_ms']:.2f} | {row['drift']:.3f} "
                    f"| {row['trend'] * 100:+.1f} % "
                    f"| {'' if relative != relative else f'{relative * 100:+.1f} %'} "
                    f"| {row['growth_mb']:+.1f} "
                    f"| {row['worst_drift']:.3f}, {row['worst_trend'] * 100:+.1f} %, "
                    f"{row['worst_growth']:+.1f} MB |"
                )
            lines += [
                "",
                "Per-file times are medians within each window; RSS growth is the "
                "highest RSS in the last window minus the highest in the first. A trend is "
                "the Theil-Sen slope through the window medians (windows of whole patients, "
                f"{PATIENT_FILES} files, when the batch holds at least {MIN_WINDOWS}; else "
                f"{TREND_WINDOWS} equal windows), "
                "as a change from the first file to the last relative to the median; unlike "
                "last / first it is not moved by one slow window. The target is the trend of "
                "the core's time per file divided by the floor's at the same position in the "
                "same repetition: the operating system makes every writer slower as a batch "
                "fills the page cache, the floor as much as the core.",
            ]
        lines += ["", "See benchmarks/README.md for what each figure means.", ""]
        return "\n".join(lines)

    def ct_notes(self) -> list[str]:
        notes = [
            "In-process variants process one untimed warm-up file first and leave their "
            "outputs in the page cache; CLI times are whole command runs (interpreter start, "
            "imports, core creation, atomic writes and the fsync of every output included).",
            "'time x floor' is the median over repetitions of each repetition's ratio to the "
            "floor run of the same repetition. Each CLI variant runs twice per repetition "
            "(A B B A); its time in a repetition is the mean of the two.",
        ]
        for row in self.ct_rows():
            if "baseline_mb" in row:
                notes.append(
                    f"{row['label']}: RSS after imports and warm-up {row['baseline_mb']:.0f} MB."
                )
            if "tree_mb" in row:
                notes.append(
                    f"{row['label']}: peak RSS is the largest single process; the "
                    f"whole process tree peaked at {row['tree_mb']:.0f} MB PSS "
                    "(sampled every 0.25 s)."
                )
            if "warning" in row:
                notes.append(f"{row['label']}: WARNING {row['warning']}.")
        return [f"- {n}" for n in notes]

    def print_console(self) -> None:
        print(self.markdown())


def _failure(result: dict[str, Any]) -> str:
    """The last line of a failed run's error or log, shortened, with | made table-safe."""
    text = str(result.get("error") or result.get("log_tail") or f"exit {result.get('returncode')}")
    lines = [line.strip() for line in text.replace(" | ", "\n").splitlines() if line.strip()]
    last = lines[-1] if lines else text
    if "returncode" in result:
        last = f"exit {result['returncode']}: {last}"
    return last[:200].replace("|", "/")


def _rss_text(row: dict[str, Any]) -> str:
    return f"{row['peak_mb']:.0f}"


def _median_mb(values: list[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return _median(known) / MB if known else None


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="idiscore against plain pydicom read + write, in one interleaved run."
    )
    parser.add_argument("--files", type=int, default=1000, help="CT slices (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (default 5, min 3)")
    parser.add_argument(
        "--scaling",
        type=int,
        metavar="N",
        help="also run one N-file in-process batch for the per-file time / memory check "
        "(default: use the --files batches of the main runs)",
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI variants")
    parser.add_argument("--no-multiframe", action="store_true", help="skip the multi-frame file")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH, help="Markdown output")
    parser.add_argument(
        "--raw", type=Path, help="also write every run's measurements (JSON) to this file"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    if args.files < 1:
        parser.error("--files must be at least 1")
    if args.repeat < 3:
        parser.error("--repeat must be at least 3 (figures are medians)")
    if args.scaling is not None and args.scaling < 20:
        parser.error("--scaling needs at least 20 files")
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("IDISCORE_KEY", KEY)
    bench = Bench(args)
    try:
        bench.run()
    finally:
        shutil.rmtree(bench.scratch, ignore_errors=True)
    bench.print_console()
    args.results.write_text(bench.markdown())
    if args.raw is not None:
        args.raw.write_text(json.dumps(bench.results))
    print(f"\nwritten to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
