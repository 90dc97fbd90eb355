"""Turning WebSocket compression (permessage-deflate) off in Hypercorn.

Every browser offers permessage-deflate and Hypercorn accepts it unconditionally, with a
zlib compressor and decompressor per socket: most of an idle connection's memory
(docs/performance.md, Design measurements). Chat frames are small JSON objects that
compress poorly anyway, so by default ChatTrain declines the offer
(CHATTRAIN_WS_COMPRESSION=on restores it). Hypercorn has no setting for this, so the
extension class it instantiates for each handshake is replaced by one that never accepts
an offer."""

from __future__ import annotations

from wsproto.extensions import PerMessageDeflate


class DeclinedPerMessageDeflate(PerMessageDeflate):
    def accept(self, offer):  # noqa: ANN001, ANN201
        return None


def disable_permessage_deflate() -> None:
    import hypercorn.protocol.ws_stream as ws_stream

    ws_stream.PerMessageDeflate = DeclinedPerMessageDeflate
