"""The DICOM node (pynetdicom, the ``net`` extra): receive, de-identify, forward.

::

    from idiscore.net import Node, NodeOptions, Peer

    node = Node(core, NodeOptions(spool=Path("spool"), forward=Peer.parse("PACS@pacs:104")))
    node.start()   # listens on port 11112; resumes what the spool holds
    ...
    node.stop()    # graceful: finishes what is in flight, keeps the queue

Modules: :mod:`~idiscore.net.node` (the pipeline and the C-STORE SCP),
:mod:`~idiscore.net.spool` (the on-disk states and the durability guarantee),
:mod:`~idiscore.net.forwarder` (the outbound queue, a C-STORE SCU),
:mod:`~idiscore.net.pull` (C-FIND + C-MOVE from a PACS),
:mod:`~idiscore.net.events` (the JSON-lines report and the status line),
:mod:`~idiscore.net.peers` (addresses, presentation and TLS contexts).
"""

from idiscore.net.events import EVENTS, EventLog
from idiscore.net.forwarder import Forwarder, ForwardOptions
from idiscore.net.node import Node, NodeOptions
from idiscore.net.peers import Peer
from idiscore.net.pull import Pull, PullOutcome
from idiscore.net.spool import Spool, instance_key

__all__ = [
    "EVENTS",
    "EventLog",
    "ForwardOptions",
    "Forwarder",
    "Node",
    "NodeOptions",
    "Peer",
    "Pull",
    "PullOutcome",
    "Spool",
    "instance_key",
]
