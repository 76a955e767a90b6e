#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the captured keepalived vectors.

fuzz/corpus/inspect_frame: each frame, its IP packet and its bare VRRP message.
fuzz/corpus/decode:        family byte (0 IPv4, 1 IPv6) + source + destination + message.
fuzz/corpus/roundtrip:     each bare message (any bytes describe a valid repr there).
Run from anywhere: python3 fuzz/seed.py
"""
import pathlib

root = pathlib.Path(__file__).resolve().parent
vectors = root.parent / "crates/vrrp-packet/tests/vectors"
for target in ("decode", "inspect_frame", "roundtrip"):
    (root / "corpus" / target).mkdir(parents=True, exist_ok=True)

for hex_file in sorted(vectors.glob("*.hex")):
    name = "keepalived-" + hex_file.stem
    frame = bytes.fromhex(hex_file.read_text().strip())
    ethertype = int.from_bytes(frame[12:14], "big")
    ip = frame[14:]
    if ethertype == 0x0800:
        ihl = (ip[0] & 0x0F) * 4
        total = int.from_bytes(ip[2:4], "big")
        src, dst, message, selector = ip[12:16], ip[16:20], ip[ihl:total], 0
    else:
        plen = int.from_bytes(ip[4:6], "big")
        src, dst, message, selector = ip[8:24], ip[24:40], ip[40:40 + plen], 1
    (root / "corpus/inspect_frame" / f"{name}-frame").write_bytes(frame)
    (root / "corpus/inspect_frame" / f"{name}-ip").write_bytes(ip)
    (root / "corpus/inspect_frame" / f"{name}-vrrp").write_bytes(message)
    (root / "corpus/decode" / name).write_bytes(bytes([selector]) + src + dst + message)
    (root / "corpus/roundtrip" / name).write_bytes(message)
