"""``idiscore serve`` and ``idiscore pull``: the DICOM node on the command line.

Every option can also come from ``--config node.toml``: a TOML table whose keys are the
option names (``ae-title = "IDISCORE"``, ``allow-ae = ["CT1", "MR2"]``, ``port = 11112``);
options on the command line win over the file.

Exit codes: 0 -- stopped cleanly (serve) / everything retrieved and processed (pull);
1 -- (pull) a partial retrieval, or instances rejected or failed; 2 -- usage or
configuration error (also: the port cannot be bound).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from idiscore.errors import ConfigurationError, NetworkError

__all__ = ["pull_command", "serve_command"]


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(value, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise click.BadParameter(f"cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise click.BadParameter(f"not valid TOML: {exc}") from None
    names = {p.name for p in ctx.command.params if p.name}
    defaults: dict[str, Any] = {}
    for key, item in data.items():
        name = key.replace("-", "_")
        if name not in names or name == "config":
            raise click.BadParameter(f"unknown option {key!r} in the config file")
        defaults[name] = item
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def _node_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--config",
            type=click.Path(dir_okay=False),
            is_eager=True,
            expose_value=False,
            callback=_load_config,
            help="TOML file with any of these options (option name = value).",
        ),
        click.option("--ae-title", default="IDISCORE", show_default=True, help="Our AE title."),
        click.option("--port", type=click.IntRange(0, 65535), default=11112, show_default=True),
        click.option("--bind", default="0.0.0.0", show_default=True, help="Address to listen on."),
        click.option(
            "--spool",
            type=click.Path(file_okay=False, path_type=Path),
            required=True,
            help="Folder holding received, waiting and quarantined instances (keep it on a "
            "local disk; it holds identifying data).",
        ),
        click.option("--forward", metavar="AE@HOST:PORT", help="Destination (C-STORE SCP)."),
        click.option(
            "--output",
            type=click.Path(file_okay=False, path_type=Path),
            help="Store de-identified files here (patient layout) instead of forwarding.",
        ),
        click.option(
            "--profile", "profile_spec", default="default", show_default=True, metavar="PROFILE"
        ),
        click.option("--key-file", type=click.Path(dir_okay=False), default=None),
        click.option(
            "--report",
            type=click.Path(dir_okay=False, path_type=Path),
            help="JSON-lines report, one line per event of an instance (appended to).",
        ),
        click.option(
            "--allow-ae", multiple=True, metavar="AE", help="Accept only these calling AEs."
        ),
        click.option("--max-associations", type=click.IntRange(min=1), default=10),
        click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path)),
        click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path)),
        click.option(
            "--tls-ca",
            type=click.Path(dir_okay=False, path_type=Path),
            help="CA certificates: clients must present a certificate they signed.",
        ),
        click.option(
            "--forward-tls-ca",
            type=click.Path(dir_okay=False, path_type=Path),
            help="TLS towards --forward (and pull's --from): trust these CA certificates.",
        ),
        click.option(
            "--forward-tls-cert",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Our client certificate for TLS towards --forward / --from.",
        ),
        click.option(
            "--forward-tls-key",
            type=click.Path(dir_okay=False, path_type=Path),
            help="The key of --forward-tls-cert.",
        ),
        click.option(
            "--max-failures",
            type=click.IntRange(min=1),
            default=5,
            show_default=True,
            help="Refusals by the destination before an instance is quarantined.",
        ),
        click.option("--retry-delay", type=click.FloatRange(min=0.01), default=1.0),
        click.option("--max-retry-delay", type=click.FloatRange(min=0.01), default=60.0),
        click.option(
            "--status-interval",
            type=click.FloatRange(min=0),
            default=60.0,
            show_default=True,
            help="Seconds between status lines on stderr (0: none).",
        ),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            default=None,
            help="De-identifying worker processes (default: all cores; 1 = in this process).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No status lines."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _build(params: dict[str, Any], log: Callable[[str], None], **kwargs: Any) -> Any:
    from idiscore.batch import default_workers
    from idiscore.cli.setup import build_core, load_key
    from idiscore.net.node import Node, NodeOptions
    from idiscore.net.peers import Peer

    forward = Peer.parse(params["forward"]) if params["forward"] else None
    outbound_tls = kwargs.pop("outbound_tls", None)
    if outbound_tls is not None and forward is None:
        outbound_tls = None  # (pull with --output: TLS towards the PACS only)
    options = NodeOptions(
        spool=params["spool"],
        forward=forward,
        output=params["output"],
        ae_title=params["ae_title"],
        bind=params["bind"],
        port=params["port"],
        report=params["report"],
        allow_ae=tuple(params["allow_ae"] or ()),
        max_associations=params["max_associations"],
        tls_cert=params["tls_cert"],
        tls_key=params["tls_key"],
        tls_ca=params["tls_ca"],
        max_failures=params["max_failures"],
        retry_delay=params["retry_delay"],
        max_retry_delay=params["max_retry_delay"],
        status_interval=0 if params["quiet"] else params["status_interval"],
        timeout=params["timeout"],
        workers=params["workers"] or default_workers(),
        forward_tls=outbound_tls,
    )
    key = load_key(params["key_file"])
    if key.is_random:
        raise ConfigurationError(
            "the node needs a key (--key-file or IDISCORE_KEY): with a random one, the "
            "pseudonyms of a patient would change at every restart"
        )
    core = build_core(params["profile_spec"], key)
    return Node(core, options, log=log, **kwargs)


def _outbound_tls(params: dict[str, Any]) -> Any:
    """The TLS client context of ``--forward-tls-*`` (None without them).

    Raises:
        ConfigurationError: a certificate without its key (or the reverse), or a file
            that cannot be loaded.
    """
    from idiscore.net.peers import client_tls_context

    ca, cert, key = (params[f"forward_tls_{name}"] for name in ("ca", "cert", "key"))
    if (cert is None) != (key is None):
        raise ConfigurationError("--forward-tls-cert and --forward-tls-key go together")
    if ca is None and cert is None:
        return None
    return client_tls_context(ca, cert, key)


def _log(line: str) -> None:
    click.echo(line, err=True)


def _start(node: Any) -> None:
    try:
        node.start()
    except OSError as exc:
        node.stop(timeout=1)
        raise ConfigurationError(
            f"cannot listen on port {node.options.port}: {exc.strerror or exc}"
        ) from None


@click.command("serve")
@_node_options
def serve_command(**params: Any) -> None:
    """Receive instances (C-STORE), de-identify them, forward them (or store them).

    Success is answered only once an instance is on the disk; a restarted node resumes
    its spool. SIGTERM or Ctrl-C stops it gracefully (the queue is kept).
    """
    wants_tls = any(params[f"forward_tls_{name}"] for name in ("ca", "cert", "key"))
    if wants_tls and not params["forward"]:
        raise ConfigurationError("--forward-tls-* options need --forward")
    tls = _outbound_tls(params)
    node = _build(params, _log, outbound_tls=tls)
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)
    _start(node)
    _log(f"idiscore node {node.options.ae_title} listening on port {node.port}")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _log("stopping: finishing what is in flight")
        node.stop()
        _log(node.status_line())


@click.command("pull")
@click.option("--from", "source", required=True, metavar="AE@HOST:PORT", help="The PACS.")
@click.option("--study", "studies", multiple=True, metavar="UID", help="Study Instance UID.")
@click.option("--patient", metavar="ID", help="Every study of this Patient ID.")
@click.option(
    "--move-destination",
    metavar="AE",
    help="AE title the PACS knows this node by (default: --ae-title).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds to wait for the retrieved instances to be processed.",
)
@_node_options
def pull_command(
    source: str,
    studies: tuple[str, ...],
    patient: str | None,
    move_destination: str | None,
    wait: float,
    **params: Any,
) -> None:
    """Retrieve a study (or a patient's studies) from a PACS into the node's pipeline.

    C-FIND counts the instances, C-MOVE (Study Root) retrieves them to this node, which
    de-identifies and forwards (or stores) them. Exit code 1 when fewer instances arrived
    than C-FIND found, or some were rejected or failed.
    """
    from idiscore.net.peers import Peer
    from idiscore.net.pull import Pull

    if bool(studies) == bool(patient):
        raise click.UsageError("give --study UID (one or more) or --patient ID")
    peer = Peer.parse(source)
    tls = _outbound_tls(params)
    retrieval = Pull(peer, ssl_context=tls)
    node = _build(params, _log, on_received=retrieval.received, outbound_tls=tls)
    _start(node)
    try:
        outcome = retrieval.run(
            node,
            studies=list(studies),
            patient=patient,
            move_destination=move_destination or node.options.ae_title,
            wait=wait,
        )
    except NetworkError as exc:
        click.echo(f"error: {exc}", err=True)
        click.get_current_context().exit(1)
    finally:
        node.stop()
    for line in outcome.lines():
        click.echo(line)
    click.get_current_context().exit(0 if outcome.ok else 1)
