//! A tiny reader for classic pcap files (what `tcpdump -w` writes), and a few accessors for
//! the Ethernet frames in them. No libpcap.

use std::time::{Duration, SystemTime};

use crate::error::{LabError, Result};

/// Link type of Ethernet captures (LINKTYPE_ETHERNET).
pub const LINKTYPE_ETHERNET: u32 = 1;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const GLOBAL_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedPacket {
    /// When the kernel saw it (wall clock, as tcpdump records it).
    pub timestamp: SystemTime,
    /// The captured bytes (the whole frame: tcpdump runs with `-s 0`).
    pub data: Vec<u8>,
    /// The frame's length on the wire.
    pub orig_len: u32,
}

impl CapturedPacket {
    /// Ethernet destination address, if the frame is long enough.
    pub fn eth_dst(&self) -> Option<[u8; 6]> {
        self.data.get(0..6).and_then(|s| s.try_into().ok())
    }

    /// Ethernet source address, if the frame is long enough.
    pub fn eth_src(&self) -> Option<[u8; 6]> {
        self.data.get(6..12).and_then(|s| s.try_into().ok())
    }

    /// The EtherType (0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6), if the frame is long enough.
    pub fn ethertype(&self) -> Option<u16> {
        self.data
            .get(12..14)
            .map(|s| u16::from_be_bytes([s[0], s[1]]))
    }

    /// What follows the 14-byte Ethernet header.
    pub fn eth_payload(&self) -> &[u8] {
        self.data.get(14..).unwrap_or(&[])
    }
}

/// A parsed pcap file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapFile {
    /// The link type of every record (1 = Ethernet).
    pub linktype: u32,
    /// The records in file order. A record cut short at the end of the file (tcpdump still
    /// writing) is left out.
    pub packets: Vec<CapturedPacket>,
}

/// Parses a classic pcap file: microsecond or nanosecond timestamps, either byte order.
pub fn parse_pcap(bytes: &[u8]) -> Result<PcapFile> {
    let header = bytes
        .get(..GLOBAL_HEADER_LEN)
        .ok_or_else(|| LabError::Pcap(format!("{} bytes, shorter than the header", bytes.len())))?;
    let magic_le = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let magic_be = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let (little, nanos) = match (magic_le, magic_be) {
        (MAGIC_MICROS, _) => (true, false),
        (MAGIC_NANOS, _) => (true, true),
        (_, MAGIC_MICROS) => (false, false),
        (_, MAGIC_NANOS) => (false, true),
        _ => return Err(LabError::Pcap(format!("unknown magic {magic_le:#010x}"))),
    };
    let word = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let linktype = word(&header[20..24]);
    let mut packets = Vec::new();
    let mut rest = &bytes[GLOBAL_HEADER_LEN..];
    while let Some(record) = rest.get(..RECORD_HEADER_LEN) {
        let secs = word(&record[0..4]);
        let frac = word(&record[4..8]);
        let incl_len = word(&record[8..12]) as usize;
        let orig_len = word(&record[12..16]);
        let Some(data) = rest.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + incl_len) else {
            break; // cut short: tcpdump is still writing this record
        };
        let sub = if nanos {
            Duration::from_nanos(u64::from(frac))
        } else {
            Duration::from_micros(u64::from(frac))
        };
        let timestamp = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(secs)) + sub;
        packets.push(CapturedPacket {
            timestamp,
            data: data.to_vec(),
            orig_len,
        });
        rest = &rest[RECORD_HEADER_LEN + incl_len..];
    }
    Ok(PcapFile { linktype, packets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(magic: u32, little: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let h = |v: u16| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(w(magic));
        out.extend(h(2));
        out.extend(h(4));
        out.extend(w(0));
        out.extend(w(0));
        out.extend(w(262_144));
        out.extend(w(LINKTYPE_ETHERNET));
        for (secs, frac, data) in records {
            out.extend(w(*secs));
            out.extend(w(*frac));
            out.extend(w(data.len() as u32));
            out.extend(w(data.len() as u32 + 4));
            out.extend_from_slice(data);
        }
        out
    }

    const FRAME: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x11, 0x08, 0x06, 0xaa, 0xbb,
    ];

    #[test]
    fn parses_microsecond_little_endian() {
        let bytes = file(
            MAGIC_MICROS,
            true,
            &[(10, 500, &FRAME), (11, 7, &FRAME[..14])],
        );
        let pcap = parse_pcap(&bytes).unwrap();
        assert_eq!(pcap.linktype, LINKTYPE_ETHERNET);
        assert_eq!(pcap.packets.len(), 2);
        let p = &pcap.packets[0];
        assert_eq!(
            p.timestamp,
            SystemTime::UNIX_EPOCH + Duration::new(10, 500_000)
        );
        assert_eq!(p.data, FRAME);
        assert_eq!(p.orig_len, 20);
        assert_eq!(p.eth_dst(), Some([0xff; 6]));
        assert_eq!(p.eth_src(), Some([2, 0, 0, 0, 0, 0x11]));
        assert_eq!(p.ethertype(), Some(0x0806));
        assert_eq!(p.eth_payload(), &[0xaa, 0xbb]);
        assert_eq!(
            pcap.packets[1].timestamp,
            SystemTime::UNIX_EPOCH + Duration::new(11, 7_000)
        );
        assert_eq!(pcap.packets[1].eth_payload(), &[] as &[u8]);
    }

    #[test]
    fn parses_nanosecond_big_endian() {
        let bytes = file(MAGIC_NANOS, false, &[(3, 999_999_999, &FRAME)]);
        let pcap = parse_pcap(&bytes).unwrap();
        assert_eq!(pcap.packets.len(), 1);
        assert_eq!(
            pcap.packets[0].timestamp,
            SystemTime::UNIX_EPOCH + Duration::new(3, 999_999_999)
        );
    }

    #[test]
    fn drops_a_record_cut_short() {
        let mut bytes = file(MAGIC_NANOS, true, &[(1, 0, &FRAME), (2, 0, &FRAME)]);
        bytes.truncate(bytes.len() - 3);
        assert_eq!(parse_pcap(&bytes).unwrap().packets.len(), 1);
        bytes.truncate(GLOBAL_HEADER_LEN + 5);
        assert_eq!(parse_pcap(&bytes).unwrap().packets.len(), 0);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_pcap(&[0; 10]).is_err());
        assert!(parse_pcap(&[0x42; 40]).is_err());
    }
}
