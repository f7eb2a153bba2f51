"""Framing for the parent <-> sandbox socket: a JSON header plus a safetensors blob.

Neither side ever unpickles: JSON is parsed with size limits and tensors are read with
``safetensors`` (a format that cannot run code when read).
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

_PREFIX = struct.Struct(">QQ")
MAX_HEADER = 4 * 2**20


class ProtocolError(Exception):
    """The other side sent something malformed or too large."""


class Closed(ProtocolError):
    """The other side closed the connection (it exited or crashed)."""


def send(
    sock: socket.socket, header: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None
) -> None:
    head = json.dumps(header).encode()
    blob = (
        st_save({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()})
        if tensors
        else b""
    )
    sock.sendall(_PREFIX.pack(len(head), len(blob)) + head)
    if blob:
        sock.sendall(blob)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise Closed("the sandboxed process closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket, max_bytes: int) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read one message; refuse anything larger than ``max_bytes`` before reading it."""
    n_head, n_blob = _PREFIX.unpack(_recv_exact(sock, _PREFIX.size))
    if n_head > MAX_HEADER or n_blob > max_bytes:
        raise ProtocolError(
            f"a reply of {n_head + n_blob} bytes exceeds the limit of {max_bytes} bytes"
        )
    try:
        header = json.loads(_recv_exact(sock, n_head))
    except ValueError:
        raise ProtocolError("the reply header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("the reply header is not a JSON object")
    blob = _recv_exact(sock, n_blob) if n_blob else b""
    try:
        tensors = st_load(blob) if blob else {}
    except Exception:
        raise ProtocolError("the reply's tensor payload is not valid safetensors") from None
    return header, tensors
