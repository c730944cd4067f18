"""A SIP OPTIONS request to the local SIP service, as trunk providers ping it: the SIP service
is up when it answers 200."""

from __future__ import annotations

import asyncio
import secrets


class _Answer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.first_line: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if not self.first_line.done():
            self.first_line.set_result(data.split(b"\r\n", 1)[0].decode(errors="replace"))


def options_request(port: int, local_port: int) -> bytes:
    branch, tag, call_id = (secrets.token_hex(8) for _ in range(3))
    return (
        f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:readyz@127.0.0.1>;tag={tag}\r\n"
        f"To: <sip:ping@127.0.0.1:{port}>\r\n"
        f"Call-ID: {call_id}@127.0.0.1\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def ping(port: int, timeout: float = 2.0) -> str:
    """The status line the SIP service on 127.0.0.1:`port` answers an OPTIONS with; raises
    TimeoutError when it does not answer."""
    loop = asyncio.get_running_loop()
    transport, answer = await loop.create_datagram_endpoint(
        _Answer, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", port)
    )
    try:
        transport.sendto(options_request(port, transport.get_extra_info("sockname")[1]))
        return await asyncio.wait_for(answer.first_line, timeout)
    finally:
        transport.close()
