"""Hostile Office files built byte by byte, shared by the tests and bench/hostile.py: a .docx whose body part
inflates far past the size its zip headers declare (a valid body, then zeros), with the central directory, the
local header, or both telling the lie."""

from __future__ import annotations

import struct
import zlib

DOCX_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)
DOCX_TAIL = "</w:body></w:document>"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
BODY = DOCX_HEAD + "<w:p><w:r><w:t>Hello, body.</w:t></w:r></w:p>" + DOCX_TAIL


def under_declared_docx(zeros_mb: int, *, central: bool = True, local: bool = True) -> bytes:
    """A .docx whose word/document.xml is BODY followed by `zeros_mb` MB of zeros; the headers chosen declare only
    BODY's size and checksum (so a reader that trusts them and cuts there sees a valid, tiny document)."""
    inflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    real_crc = zlib.crc32(BODY.encode())
    packed = [inflater.compress(BODY.encode())]
    zeros = b"\0" * 2**20
    for _ in range(zeros_mb):
        packed.append(inflater.compress(zeros))
        real_crc = zlib.crc32(zeros, real_crc)
    packed.append(inflater.flush())
    bomb = b"".join(packed)
    real_size = len(BODY) + zeros_mb * 2**20
    told = (zlib.crc32(BODY.encode()), len(BODY))
    members = [
        ("[Content_Types].xml", CONTENT_TYPES.encode(), None, None),
        ("_rels/.rels", RELS.encode(), None, None),
        (
            "word/document.xml",
            bomb,
            told if local else (real_crc, real_size),
            told if central else (real_crc, real_size),
        ),
    ]
    out, directory = bytearray(), bytearray()
    for name, data, in_local, in_central in members:
        if in_local is None:  # an honest, deflated part
            plain = data
            squeezer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            data = squeezer.compress(plain) + squeezer.flush()
            in_local = in_central = (zlib.crc32(plain), len(plain))
        assert in_central is not None
        offset = len(out)
        encoded = name.encode()
        out += struct.pack(
            "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, in_local[0], len(data), in_local[1], len(encoded), 0
        )
        out += encoded + data
        directory += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, in_central[0], len(data), in_central[1],
            len(encoded), 0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        directory += encoded
    start = len(out)
    out += directory
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), start, 0)
    return bytes(out)
