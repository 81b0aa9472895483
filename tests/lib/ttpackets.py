"""What the Python generators of test captures share (tests/captures/make_captures.py,
tests/robustness/make_odd_captures.py): the Internet checksum and IPv4 addresses.
Import it with tests/lib on sys.path."""
import struct


def csum(data):
    """The Internet checksum (RFC 1071) of data, as an int."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    """The 4 bytes of the dotted IPv4 address a."""
    return bytes(int(x) for x in a.split("."))
