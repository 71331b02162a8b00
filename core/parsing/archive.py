"""Office files are zip archives: refuse zip bombs before any parser inflates them.

The declared sizes are checked first (cheap), then every member is inflated once here, in 1 MB steps, counting the
bytes it really produces: a member whose headers (central directory, local header, or both) claim less than it
inflates to is refused the moment it passes its claim. The parsers' own reading (`zipfile` inflates a member's
whole compressed data in one call and only then cuts it to the declared size) never sees such a file.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from io import BytesIO

from core.errors import ParseError
from core.parsing.options import ParseOptions

STEP = 1 << 20  # bytes inflated at a time: the most this check holds in memory
READ = 1 << 16  # compressed bytes fed at a time
LOCAL_HEADER = b"PK\x03\x04"


def check_archive(filename: str, data: bytes, options: ParseOptions) -> None:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(
            f"{filename} could not be read: the file is damaged or not a valid {_kind(filename)} file."
        ) from exc
    unpacked = sum(m.file_size for m in members)
    packed = len(data) or 1  # the real length of the file, never what the headers claim
    markup = sum(m.file_size for m in members if m.filename.lower().endswith((".xml", ".rels")))
    if markup > options.limits.max_markup_bytes:
        raise ParseError(
            f"{filename} holds {markup / 2**20:,.0f} MB of document markup, over the "
            f"{options.limits.max_markup_bytes / 2**20:,.0f} MB limit (WORKBENCH_MAX_MARKUP_MB); split the document."
        )
    if unpacked > options.max_unzipped_bytes:
        raise ParseError(
            f"{filename} would unpack to {unpacked / 2**20:,.0f} MB, over the {options.max_unzipped_bytes / 2**20:,.0f} MB limit; "
            "it is refused as a possible zip bomb."
        )
    if unpacked > 10 * 2**20 and unpacked / packed > options.max_zip_ratio:
        raise ParseError(
            f"{filename} is compressed {unpacked / packed:,.0f} times (limit {options.max_zip_ratio}); "
            "it is refused as a possible zip bomb."
        )
    for member in members:
        if inflated(filename, data, member) > member.file_size:
            raise ParseError(
                f"{filename} could not be read: its part {member.filename} unpacks to more than the "
                f"{member.file_size:,} bytes its headers declare; it is refused as a possible zip bomb."
            )


def inflated(filename: str, data: bytes, member: zipfile.ZipInfo) -> int:
    """How many bytes the member really inflates to, counted up to one past what it declares."""
    start = _data_start(filename, data, member)
    if member.compress_type == zipfile.ZIP_STORED:
        return min(member.compress_size, len(data) - start)  # stored bytes cannot grow
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise ParseError(
            f"{filename} could not be read: its part {member.filename} uses a compression Office files never use."
        )
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced, position, pending = 0, start, b""
    try:
        while produced <= member.file_size and not inflater.eof:
            if not pending:
                if position >= len(data):
                    break  # cut short: the parser says the file is damaged
                pending, position = data[position : position + READ], position + READ
            produced += len(inflater.decompress(pending, STEP))
            pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise ParseError(f"{filename} could not be read: its part {member.filename} is damaged.") from exc
    return produced


def _data_start(filename: str, data: bytes, member: zipfile.ZipInfo) -> int:
    offset = member.header_offset
    if data[offset : offset + 4] != LOCAL_HEADER or len(data) < offset + 30:
        raise ParseError(f"{filename} could not be read: the file is damaged or not a valid {_kind(filename)} file.")
    name_length, extra_length = struct.unpack("<HH", data[offset + 26 : offset + 30])
    return offset + 30 + name_length + extra_length


def _kind(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else "zip"
