"""MurmurHash3 x86 32-bit as Spark's ``Murmur3_x86_32`` computes it (seed 42 for ML).

Hand-written rather than taken from ``mmh3`` because Spark 2's ``hashUnsafeBytes``
(version 1, still found in MLeap bundles before 0.18) is not standard MurmurHash3: it
mixes each tail byte on its own, sign-extended. Version 2 (``hashUnsafeBytes2``, Spark 3)
is the standard algorithm. Values are signed 32-bit ints, as the JVM returns them.
"""

from __future__ import annotations

import struct

C1, C2, M32 = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
SEED = 42


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & M32


def _mix_k1(k1: int) -> int:
    return (_rotl((k1 * C1) & M32, 15) * C2) & M32


def _mix_h1(h1: int, k1: int) -> int:
    return (_rotl(h1 ^ k1, 13) * 5 + 0xE6546B64) & M32


def _fmix(h1: int, length: int) -> int:
    h1 ^= length
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & M32
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & M32
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


def _blocks(data: bytes, h1: int) -> int:
    aligned = len(data) - len(data) % 4
    for (block,) in struct.iter_unpack("<I", data[:aligned]):
        h1 = _mix_h1(h1, _mix_k1(block))
    return h1


def hash_bytes(data: bytes, seed: int = SEED, version: int = 2) -> int:
    h1 = _blocks(data, seed & M32)
    tail = data[len(data) - len(data) % 4:]
    if version == 1:
        for byte in tail:  # Spark 2: each tail byte, sign-extended, as a whole block
            h1 = _mix_h1(h1, _mix_k1((byte - 256 if byte > 127 else byte) & M32))
    elif tail:
        k1 = 0
        for shift, byte in enumerate(tail):
            k1 |= byte << (8 * shift)
        h1 ^= _mix_k1(k1)
    return _fmix(h1, len(data))


def hash_int(value: int, seed: int = SEED) -> int:
    return _fmix(_mix_h1(seed & M32, _mix_k1(value & M32)), 4)


def hash_long(value: int, seed: int = SEED) -> int:
    low, high = value & M32, (value >> 32) & M32
    h1 = _mix_h1(seed & M32, _mix_k1(low))
    return _fmix(_mix_h1(h1, _mix_k1(high)), 8)


def hash_term(term, version: int = 2) -> int:
    """Spark's hash of one term: strings by their UTF-8 bytes, numbers as the JVM does."""
    if isinstance(term, str):
        return hash_bytes(term.encode("utf-8"), version=version)
    if isinstance(term, bool):
        return hash_int(1 if term else 0)
    if isinstance(term, int):
        return hash_int(term) if -(1 << 31) <= term < (1 << 31) else hash_long(term)
    if isinstance(term, float):
        (bits,) = struct.unpack("<q", struct.pack("<d", term))
        return hash_long(bits)
    raise TypeError(f"cannot hash a {type(term).__name__}")


def index_of(term, num_features: int, version: int = 2) -> int:
    """``nonNegativeMod(hash(term), num_features)``."""
    return hash_term(term, version) % num_features
