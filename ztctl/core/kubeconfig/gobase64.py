"""Base64 exactly as kubectl decodes a kubeconfig's ``*-data`` fields.

kubectl (client-go) reads ``certificate-authority-data``, ``client-certificate-data`` and
``client-key-data`` as Go ``[]byte`` fields, decoded with ``encoding/base64.StdEncoding``:
the standard alphabet, ``=`` padding required, CR and LF skipped anywhere, and nothing after
the padding. Python's :func:`base64.b64decode` is laxer (it accepts ``QQ==`` followed by
more ``=``, or data whose length is not a multiple of four when padded oddly), so a value it
accepts may still make kubectl refuse the whole file with "illegal base64 data".
"""

from __future__ import annotations

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DECODE = {ord(c): i for i, c in enumerate(_ALPHABET)}
_PAD = ord("=")
_NEWLINES = (ord("\n"), ord("\r"))


class Base64Error(ValueError):
    """Not base64 that Go's StdEncoding decodes; ``offset`` is the byte Go names."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def _quantum(src: bytes, si: int, out: bytearray) -> tuple[int, bool]:
    """One quantum of Go's ``decodeQuantum``: (next index, whether the input ended)."""
    buf = [0, 0, 0, 0]
    j = 0
    length = 4
    while j < 4:
        if si == len(src):
            if j == 0:
                return si, True
            raise Base64Error(si - j)  # a short final quantum: padding is mandatory
        byte = src[si]
        si += 1
        value = _DECODE.get(byte)
        if value is not None:
            buf[j] = value
            j += 1
            continue
        if byte in _NEWLINES:
            continue
        if byte != _PAD or j < 2:
            raise Base64Error(si - 1)
        if j == 2:  # "==" expected; the first "=" is consumed
            while si < len(src) and src[si] in _NEWLINES:
                si += 1
            if si == len(src):
                raise Base64Error(len(src))
            if src[si] != _PAD:
                raise Base64Error(si - 1)
            si += 1
        while si < len(src) and src[si] in _NEWLINES:
            si += 1
        if si < len(src):
            raise Base64Error(si)  # something after the padding
        length = j
        break
    word = buf[0] << 18 | buf[1] << 12 | buf[2] << 6 | buf[3]
    out.extend(word.to_bytes(3, "big")[: length - 1])
    return si, length < 4


def decode_std(value: str) -> bytes:
    """Decode like Go's ``base64.StdEncoding.DecodeString`` (a port of its
    ``decodeQuantum``): CR and LF skipped, padding mandatory, nothing after it, the error
    naming the same byte offset Go's does. Trailing bits are ignored, as Go's non-strict
    encoding does."""
    src = value.encode("utf-8")
    out = bytearray()
    si = 0
    done = False
    while not done:
        si, done = _quantum(src, si, out)
    return bytes(out)


def is_std(value: str) -> bool:
    try:
        decode_std(value)
    except Base64Error:
        return False
    return True
