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

# --- config_parse, keepalived_import, control_request: seeds from real configs ------------
import re

repo = root.parent


def rust_raw_strings(path):
    """The r#"..."# literals of a Rust test file."""
    return re.findall(r'r#"(.*?)"#', path.read_text(), flags=re.S)


def write(target, name, data):
    d = root / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# Native TOML: the shipped examples, every ```toml block of the docs, the tests' configs.
for toml in sorted((repo / "examples").rglob("*.toml")):
    rel = toml.relative_to(repo / "examples")
    write("config_parse", "example-" + "-".join(rel.with_suffix("").parts) + ".toml", toml.read_text())
for md in sorted((repo / "docs").glob("*.md")):
    for i, block in enumerate(re.findall(r"```toml\n(.*?)```", md.read_text(), flags=re.S)):
        write("config_parse", f"docs-{md.stem}-{i}.toml", block)
for test in ("config.rs", "warnings.rs"):
    for i, text in enumerate(rust_raw_strings(repo / "crates/vrrp-config/tests" / test)):
        if "[[instance]]" in text or "[probe." in text or "[global]" in text:
            write("config_parse", f"test-{test[:-3]}-{i}.toml", text)

# keepalived.conf: the article's pair (our addresses), the importer's test configs, and an
# include (NUL separates the main file from /etc/keepalived/conf.d/0.conf, 1.conf, ...).
for conf in sorted((repo / "crates/vrrp-config/tests/fixtures/keepalived").glob("*.conf")):
    write("keepalived_import", "article-" + conf.name, conf.read_text())
for i, text in enumerate(rust_raw_strings(repo / "crates/vrrp-config/tests/keepalived_import.rs")):
    write("keepalived_import", f"test-rich-{i}.conf", text)
for i, lit in enumerate(
    re.findall(r'"((?:[^"\\]|\\.)*)"', (repo / "crates/vrrp-config/tests/keepalived_import.rs").read_text())
):
    if "vrrp_instance" in lit and "\\n" in lit:
        text = lit.replace("\\n", "\n").replace('\\"', '"').replace("\\t", "\t")
        write("keepalived_import", f"test-{i}.conf", text)
write(
    "keepalived_import",
    "include-two-files.conf",
    b"global_defs {\n router_id n1\n}\ninclude conf.d/*.conf\n\0"
    b"vrrp_script chk {\n script \"/usr/bin/true\"\n interval 1\n weight -20\n}\n\0"
    b"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n"
    b" virtual_ipaddress {\n  192.0.2.100/24\n }\n track_script {\n  chk\n }\n}\n",
)

# Status-socket request lines.
for name, line in {
    "status": b"status\n",
    "reload": b"reload\n",
    "status-crlf": b"status\r\n",
    "status-spaces": b"  status \t\n",
    "status-no-newline": b"status",
    "two-lines": b"status\nreload\n",
    "unknown": b"shutdown now\n",
    "empty": b"\n",
    "binary": bytes(range(0, 40)),
}.items():
    write("control_request", name, line)
