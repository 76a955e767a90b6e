//! The VRRP message: a zero-copy [`Packet`] view and a high-level [`VrrpRepr`].

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum::{self, ChecksumMode};
use crate::error::{DecodeError, EmitError};

/// Byte offsets of the VRRP header fields (RFC 9568 §5.1, RFC 3768 §5.1).
mod field {
    pub(crate) const VER_TYPE: usize = 0;
    pub(crate) const VRID: usize = 1;
    pub(crate) const PRIORITY: usize = 2;
    pub(crate) const COUNT: usize = 3;
    /// v3: 4 reserved bits + 12-bit Max Adver Int. v2: Auth Type, then Adver Int.
    pub(crate) const INTERVAL: core::ops::Range<usize> = 4..6;
    pub(crate) const AUTH_TYPE_V2: usize = 4;
    pub(crate) const ADVER_INT_V2: usize = 5;
    pub(crate) const CHECKSUM: core::ops::Range<usize> = 6..8;
    pub(crate) const ADDRESSES: usize = 8;
}

/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data that follows the addresses (RFC 3768 §5.3.10).
pub const AUTH_DATA_LEN: usize = 8;
/// The only VRRP message type (RFC 9568 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// IPv4 multicast group of VRRP (RFC 9568 §5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (RFC 9568 §5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// The VRRP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// VRRPv2, RFC 3768: IPv4 only, interval in seconds, optional simple password.
    V2,
    /// VRRPv3, RFC 9568: IPv4 and IPv6, interval in centiseconds, no authentication.
    V3,
}

impl Version {
    /// The number in the version field.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version for a version field value, if VRRP defines it.
    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.number())
    }
}

/// The address family of a virtual router and of its advertisements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressFamily {
    /// IPv4: 4-byte addresses.
    Ipv4,
    /// IPv6: 16-byte addresses.
    Ipv6,
}

impl AddressFamily {
    /// Bytes per address in a VRRP message.
    pub const fn address_len(self) -> usize {
        match self {
            AddressFamily::Ipv4 => 4,
            AddressFamily::Ipv6 => 16,
        }
    }

    /// The family of an address.
    pub const fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => AddressFamily::Ipv4,
            IpAddr::V6(_) => AddressFamily::Ipv6,
        }
    }

    /// The VRRP multicast group of this family (224.0.0.18 or ff02::12).
    pub const fn multicast_group(self) -> IpAddr {
        match self {
            AddressFamily::Ipv4 => IpAddr::V4(MULTICAST_V4),
            AddressFamily::Ipv6 => IpAddr::V6(MULTICAST_V6),
        }
    }

    /// `"ipv4"` or `"ipv6"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AddressFamily::Ipv4 => "ipv4",
            AddressFamily::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An advertisement interval, kept in centiseconds (the unit of VRRPv3's 12-bit field).
///
/// VRRPv2 writes whole seconds (RFC 3768 §5.3.7); VRRPv3 writes centiseconds (RFC 9568 §5.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interval(u16);

impl Interval {
    /// The default: 1 second (100 centiseconds) in both versions.
    pub const DEFAULT: Interval = Interval(100);
    /// The largest interval VRRPv3 can carry (4095 cs = 40.95 s).
    pub const MAX_V3: Interval = Interval(0x0fff);

    /// An interval of `centis` hundredths of a second.
    pub const fn from_centis(centis: u16) -> Self {
        Interval(centis)
    }

    /// An interval of whole seconds (saturating at `u16::MAX` centiseconds).
    pub const fn from_secs(secs: u16) -> Self {
        Interval(secs.saturating_mul(100))
    }

    /// The interval in centiseconds.
    pub const fn as_centis(self) -> u16 {
        self.0
    }

    /// The interval in milliseconds.
    pub const fn as_millis(self) -> u32 {
        self.0 as u32 * 10
    }

    /// The interval as a [`core::time::Duration`].
    pub const fn as_duration(self) -> core::time::Duration {
        core::time::Duration::from_millis(self.0 as u64 * 10)
    }
}

impl Default for Interval {
    fn default() -> Self {
        Interval::DEFAULT
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(100) {
            write!(f, "{}s", self.0 / 100)
        } else {
            write!(f, "{}ms", u32::from(self.0) * 10)
        }
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6; type 1 is RFC 2338's simple password).
///
/// Simple-password authentication is not security: the password travels in clear text. It
/// exists for interoperability with peers configured with `auth_type PASS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// Type 0: no authentication (always the case for VRRPv3).
    #[default]
    None,
    /// Type 1: an 8-byte password, NUL padded.
    SimplePassword([u8; AUTH_DATA_LEN]),
}

impl Auth {
    /// A simple-password authentication from a string; keepalived keeps the first 8 bytes and
    /// pads with NULs, and so do we.
    pub fn simple_password(password: &str) -> Self {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (dst, src) in data.iter_mut().zip(password.as_bytes()) {
            *dst = *src;
        }
        Auth::SimplePassword(data)
    }

    /// The auth type number on the wire.
    pub const fn type_number(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::SimplePassword(_) => 1,
        }
    }
}

/// The virtual addresses of a message: a borrowed list, either straight from the wire or
/// from typed slices when building a message. Iterating never allocates.
#[derive(Clone, Copy)]
pub struct AddressList<'a> {
    inner: AddressListInner<'a>,
}

#[derive(Clone, Copy)]
enum AddressListInner<'a> {
    /// Raw bytes of a received message; length is a multiple of the family's address size.
    Wire {
        family: AddressFamily,
        bytes: &'a [u8],
    },
    V4(&'a [Ipv4Addr]),
    V6(&'a [Ipv6Addr]),
}

impl<'a> AddressList<'a> {
    /// A list of IPv4 addresses.
    pub const fn ipv4(addrs: &'a [Ipv4Addr]) -> Self {
        AddressList {
            inner: AddressListInner::V4(addrs),
        }
    }

    /// A list of IPv6 addresses.
    pub const fn ipv6(addrs: &'a [Ipv6Addr]) -> Self {
        AddressList {
            inner: AddressListInner::V6(addrs),
        }
    }

    /// A list read from wire bytes. Trailing bytes that do not make a whole address are
    /// ignored.
    pub const fn from_wire(family: AddressFamily, bytes: &'a [u8]) -> Self {
        AddressList {
            inner: AddressListInner::Wire { family, bytes },
        }
    }

    /// The family of the addresses.
    pub const fn family(&self) -> AddressFamily {
        match self.inner {
            AddressListInner::Wire { family, .. } => family,
            AddressListInner::V4(_) => AddressFamily::Ipv4,
            AddressListInner::V6(_) => AddressFamily::Ipv6,
        }
    }

    /// Number of addresses.
    pub const fn len(&self) -> usize {
        match self.inner {
            AddressListInner::Wire { family, bytes } => bytes.len() / family.address_len(),
            AddressListInner::V4(a) => a.len(),
            AddressListInner::V6(a) => a.len(),
        }
    }

    /// True if the list is empty.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The address at `index`, if any.
    pub fn get(&self, index: usize) -> Option<IpAddr> {
        match self.inner {
            AddressListInner::Wire { family, bytes } => {
                let size = family.address_len();
                let start = index.checked_mul(size)?;
                let chunk = bytes.get(start..start.checked_add(size)?)?;
                addr_from_bytes(family, chunk)
            }
            AddressListInner::V4(a) => a.get(index).map(|a| IpAddr::V4(*a)),
            AddressListInner::V6(a) => a.get(index).map(|a| IpAddr::V6(*a)),
        }
    }

    /// Iterates over the addresses in order.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + 'a {
        let list = *self;
        (0..list.len()).filter_map(move |i| list.get(i))
    }

    /// True if `addr` is in the list.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.iter().any(|a| a == addr)
    }

    /// Writes the addresses to `out` (which must hold exactly `len() * address_len()` bytes).
    fn write(&self, out: &mut [u8]) {
        match self.inner {
            AddressListInner::Wire { bytes, family } => {
                let n = self.len() * family.address_len();
                out[..n].copy_from_slice(&bytes[..n]);
            }
            AddressListInner::V4(addrs) => {
                for (chunk, a) in out.chunks_exact_mut(4).zip(addrs) {
                    chunk.copy_from_slice(&a.octets());
                }
            }
            AddressListInner::V6(addrs) => {
                for (chunk, a) in out.chunks_exact_mut(16).zip(addrs) {
                    chunk.copy_from_slice(&a.octets());
                }
            }
        }
    }
}

fn addr_from_bytes(family: AddressFamily, b: &[u8]) -> Option<IpAddr> {
    match family {
        AddressFamily::Ipv4 => {
            let o: [u8; 4] = b.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(o)))
        }
        AddressFamily::Ipv6 => {
            let o: [u8; 16] = b.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
    }
}

impl PartialEq for AddressList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.family() == other.family()
            && self.len() == other.len()
            && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for AddressList<'_> {}

impl fmt::Debug for AddressList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A read-only or read-write view of a VRRP message in a byte buffer (smoltcp style).
///
/// Accessors on a view made with [`Packet::new_unchecked`] may panic on short buffers; a view
/// made with [`Packet::new_checked`] is at least [`HEADER_LEN`] bytes long and its fixed-header
/// accessors never panic. [`Packet::addresses`] and [`Packet::auth_data`] return `None` instead
/// of panicking when the buffer is shorter than the count promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that it holds the fixed header.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(DecodeError::Truncated { len });
        }
        Ok(Packet { buffer })
    }

    /// Consumes the view and returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole buffer.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }

    /// The version field (high nibble of byte 0).
    pub fn version(&self) -> u8 {
        self.byte(field::VER_TYPE) >> 4
    }

    /// The type field (low nibble of byte 0).
    pub fn msg_type(&self) -> u8 {
        self.byte(field::VER_TYPE) & 0x0f
    }

    /// The Virtual Rtr ID field.
    pub fn vrid(&self) -> u8 {
        self.byte(field::VRID)
    }

    /// The Priority field.
    pub fn priority(&self) -> u8 {
        self.byte(field::PRIORITY)
    }

    /// The Count IPvX Addr field.
    pub fn count(&self) -> u8 {
        self.byte(field::COUNT)
    }

    /// VRRPv3: the 4 reserved bits before Max Adver Int (RFC 9568 §5.2.6: sent as zero,
    /// ignored on receipt).
    pub fn reserved_v3(&self) -> u8 {
        self.byte(field::INTERVAL.start) >> 4
    }

    /// VRRPv3: Max Adver Int, 12 bits, in centiseconds (RFC 9568 §5.2.7).
    pub fn max_advert_interval_v3(&self) -> u16 {
        u16::from_be_bytes([
            self.byte(field::INTERVAL.start),
            self.byte(field::INTERVAL.end - 1),
        ]) & 0x0fff
    }

    /// VRRPv2: the Auth Type field (RFC 3768 §5.3.6).
    pub fn auth_type_v2(&self) -> u8 {
        self.byte(field::AUTH_TYPE_V2)
    }

    /// VRRPv2: the Adver Int field, in seconds (RFC 3768 §5.3.7).
    pub fn advert_interval_v2(&self) -> u8 {
        self.byte(field::ADVER_INT_V2)
    }

    /// The advertisement interval read according to the version field: v2 seconds or v3
    /// centiseconds, as an [`Interval`]. Other versions read as v3.
    pub fn advert_interval(&self) -> Interval {
        if self.version() == 2 {
            Interval::from_secs(u16::from(self.advert_interval_v2()))
        } else {
            Interval::from_centis(self.max_advert_interval_v3())
        }
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([
            self.byte(field::CHECKSUM.start),
            self.byte(field::CHECKSUM.end - 1),
        ])
    }

    /// The length the header promises for `family`: 8 + Count × size (+ 8 for v2).
    pub fn expected_len(&self, family: AddressFamily) -> usize {
        let auth = if self.version() == 2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + usize::from(self.count()) * family.address_len() + auth
    }

    /// The addresses the Count field promises, if the buffer holds them all.
    pub fn addresses(&self, family: AddressFamily) -> Option<AddressList<'_>> {
        let end = field::ADDRESSES + usize::from(self.count()) * family.address_len();
        let bytes = self.buffer.as_ref().get(field::ADDRESSES..end)?;
        Some(AddressList::from_wire(family, bytes))
    }

    /// VRRPv2: the 8 bytes of authentication data after the addresses, if present.
    pub fn auth_data(&self) -> Option<[u8; AUTH_DATA_LEN]> {
        let start =
            field::ADDRESSES + usize::from(self.count()) * AddressFamily::Ipv4.address_len();
        let bytes = self.buffer.as_ref().get(start..start + AUTH_DATA_LEN)?;
        bytes.try_into().ok()
    }

    /// Guesses the family of a bare message from its length (used when no IP header is
    /// available): the family whose address size makes the length exact. VRRPv2 is IPv4.
    pub fn infer_family(&self) -> Option<AddressFamily> {
        let len = self.as_bytes().len();
        if self.version() == 2 {
            return Some(AddressFamily::Ipv4);
        }
        [AddressFamily::Ipv4, AddressFamily::Ipv6]
            .into_iter()
            .find(|f| self.expected_len(*f) == len)
    }

    /// Computes the checksum this message should carry with `mode` between `src` and `dst`
    /// (the checksum field itself is treated as zero). `None` if `src` and `dst` are of
    /// different families and a pseudo-header is asked for.
    pub fn compute_checksum(&self, mode: ChecksumMode, src: IpAddr, dst: IpAddr) -> Option<u16> {
        let msg = self.as_bytes();
        let pseudo = match mode {
            ChecksumMode::MessageOnly => 0,
            ChecksumMode::PseudoHeader => checksum::pseudo_header_sum(src, dst, msg.len())?,
        };
        // Sum with the checksum field taken as zero: the header before it and the rest after it.
        let head = msg.get(..field::CHECKSUM.start).unwrap_or(msg);
        let tail = msg.get(field::CHECKSUM.end..).unwrap_or(&[]);
        let acc = checksum::sum_bytes(pseudo, head);
        Some(checksum::checksum(acc, tail))
    }

    /// The checksum forms allowed for this message's version and the family of `src`, in the
    /// order they are tried: the first is the one we would send.
    fn allowed_modes(
        &self,
        family: AddressFamily,
        preferred_v4: ChecksumMode,
    ) -> [Option<ChecksumMode>; 2] {
        match (self.version(), family) {
            (2, _) => [Some(ChecksumMode::MessageOnly), None],
            (_, AddressFamily::Ipv6) => [Some(ChecksumMode::PseudoHeader), None],
            (_, AddressFamily::Ipv4) => {
                let other = match preferred_v4 {
                    ChecksumMode::PseudoHeader => ChecksumMode::MessageOnly,
                    ChecksumMode::MessageOnly => ChecksumMode::PseudoHeader,
                };
                [Some(preferred_v4), Some(other)]
            }
        }
    }

    /// Verifies the checksum and reports which form matched (RFC 9568 §7.1 check 3;
    /// RFC 3768 §7.1). For VRRPv3 over IPv4 both forms are accepted.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> Result<ChecksumMode, DecodeError> {
        let family = AddressFamily::of(&src);
        let found = self.checksum();
        let modes = self.allowed_modes(family, ChecksumMode::PseudoHeader);
        let mut expected = None;
        for mode in modes.into_iter().flatten() {
            let Some(sum) = self.compute_checksum(mode, src, dst) else {
                continue;
            };
            expected.get_or_insert(sum);
            if sum == found {
                return Ok(mode);
            }
        }
        Err(DecodeError::Checksum {
            found,
            expected: expected.unwrap_or(0),
        })
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn byte_mut(&mut self, i: usize) -> Option<&mut u8> {
        self.buffer.as_mut().get_mut(i)
    }

    /// Sets version and type. Writes nothing if the buffer is empty.
    pub fn set_version_type(&mut self, version: u8, msg_type: u8) {
        if let Some(b) = self.byte_mut(field::VER_TYPE) {
            *b = (version << 4) | (msg_type & 0x0f);
        }
    }

    /// Sets the Virtual Rtr ID.
    pub fn set_vrid(&mut self, vrid: u8) {
        if let Some(b) = self.byte_mut(field::VRID) {
            *b = vrid;
        }
    }

    /// Sets the priority.
    pub fn set_priority(&mut self, priority: u8) {
        if let Some(b) = self.byte_mut(field::PRIORITY) {
            *b = priority;
        }
    }

    /// Sets Count IPvX Addr.
    pub fn set_count(&mut self, count: u8) {
        if let Some(b) = self.byte_mut(field::COUNT) {
            *b = count;
        }
    }

    /// VRRPv3: sets the reserved bits to zero and Max Adver Int to `centis & 0x0fff`.
    pub fn set_max_advert_interval_v3(&mut self, centis: u16) {
        let [hi, lo] = (centis & 0x0fff).to_be_bytes();
        if let Some(b) = self.byte_mut(field::INTERVAL.start) {
            *b = hi;
        }
        if let Some(b) = self.byte_mut(field::INTERVAL.end - 1) {
            *b = lo;
        }
    }

    /// VRRPv2: sets Auth Type.
    pub fn set_auth_type_v2(&mut self, auth_type: u8) {
        if let Some(b) = self.byte_mut(field::AUTH_TYPE_V2) {
            *b = auth_type;
        }
    }

    /// VRRPv2: sets Adver Int, in seconds.
    pub fn set_advert_interval_v2(&mut self, secs: u8) {
        if let Some(b) = self.byte_mut(field::ADVER_INT_V2) {
            *b = secs;
        }
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        let [hi, lo] = value.to_be_bytes();
        if let Some(b) = self.byte_mut(field::CHECKSUM.start) {
            *b = hi;
        }
        if let Some(b) = self.byte_mut(field::CHECKSUM.end - 1) {
            *b = lo;
        }
    }

    /// Computes and writes the checksum in the form `mode` asks for, where the version and
    /// family allow a choice (VRRPv3 over IPv4); v2 always uses the message-only form and
    /// v3 over IPv6 always the pseudo-header. Returns the mode used.
    pub fn fill_checksum(
        &mut self,
        mode: ChecksumMode,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<ChecksumMode, EmitError> {
        let family = AddressFamily::of(&src);
        let Some(mode) = self.allowed_modes(family, mode)[0] else {
            return Err(EmitError::FamilyMismatch);
        };
        let sum = self
            .compute_checksum(mode, src, dst)
            .ok_or(EmitError::FamilyMismatch)?;
        self.set_checksum(sum);
        Ok(mode)
    }
}

/// How a message is checksummed when it is emitted: the IP source and destination it will be
/// sent with (for the pseudo-header) and, for VRRPv3 over IPv4, which form to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumContext {
    /// IP source address of the packet that will carry the message.
    pub src: IpAddr,
    /// IP destination address (the multicast group, or a unicast peer).
    pub dst: IpAddr,
    /// The VRRPv3-over-IPv4 form; ignored for VRRPv2 and IPv6.
    pub mode: ChecksumMode,
}

/// A VRRP advertisement in high-level form (smoltcp's `Repr`): what [`VrrpRepr::parse`] reads
/// and [`VrrpRepr::emit`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpRepr<'a> {
    /// VRRP version.
    pub version: Version,
    /// Virtual router identifier, 1..255.
    pub vrid: u8,
    /// Priority: 255 address owner, 1..254 backup, 0 = the master is resigning.
    pub priority: u8,
    /// The advertisement interval (v2: whole seconds; v3: centiseconds, ≤ 4095).
    pub advert_interval: Interval,
    /// VRRPv2 authentication; always [`Auth::None`] for VRRPv3.
    pub auth: Auth,
    /// The virtual addresses (1..255, all of one family).
    pub addresses: AddressList<'a>,
}

impl<'a> VrrpRepr<'a> {
    /// Parses and validates a received message: structure (RFC 9568 §7.1 checks that need
    /// only the message: version, type, VRID, count, length, interval, v2 auth type) and the
    /// checksum with `src` / `dst` from the IP header. Returns the repr and the checksum form
    /// that matched.
    ///
    /// Never panics, never allocates.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(VrrpRepr<'a>, ChecksumMode), DecodeError> {
        let family = AddressFamily::of(&src);
        let repr = Self::parse_structure(packet, family)?;
        let mode = packet.verify_checksum(src, dst)?;
        Ok((repr, mode))
    }

    /// Parses a message without verifying its checksum (for tools that report the checksum
    /// separately, and for callers that already verified it). `family` is the family of the
    /// IP packet that carried it.
    pub fn parse_structure<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        family: AddressFamily,
    ) -> Result<VrrpRepr<'a>, DecodeError> {
        let bytes: &'a [u8] = T::as_ref(packet.buffer);
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated { len: bytes.len() });
        }
        for index in 0..STRUCTURE_CHECKS {
            if let (_, Some(Err(e))) = structure_check(index, packet, family) {
                return Err(e);
            }
        }
        let expected = packet.expected_len(family);
        let version = if packet.version() == 2 {
            Version::V2
        } else {
            Version::V3
        };
        let (advert_interval, auth) = match version {
            Version::V3 => (
                Interval::from_centis(packet.max_advert_interval_v3()),
                Auth::None,
            ),
            Version::V2 => {
                let auth = match packet.auth_type_v2() {
                    0 => Auth::None,
                    1 => Auth::SimplePassword(packet.auth_data().ok_or(DecodeError::Length {
                        expected,
                        actual: bytes.len(),
                        count: packet.count(),
                    })?),
                    // Refused by structure_check above.
                    other => return Err(DecodeError::AuthType(other)),
                };
                (
                    Interval::from_secs(u16::from(packet.advert_interval_v2())),
                    auth,
                )
            }
        };
        let addr_end = HEADER_LEN + usize::from(packet.count()) * family.address_len();
        let addresses = AddressList::from_wire(family, &bytes[HEADER_LEN..addr_end]);
        Ok(VrrpRepr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            advert_interval,
            auth,
            addresses,
        })
    }

    /// Parses a message in `bytes` received from `src` to `dst`: [`Packet::new_checked`]
    /// followed by [`VrrpRepr::parse`].
    pub fn decode(
        bytes: &'a [u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(VrrpRepr<'a>, ChecksumMode), DecodeError> {
        let packet = Packet::new_checked(bytes)?;
        VrrpRepr::parse(&packet, src, dst)
    }

    /// The length of the message [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let auth = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + self.addresses.len() * self.addresses.family().address_len() + auth
    }

    /// Checks that this repr can be written: VRID, address count, interval range, auth and
    /// family rules of its version.
    pub fn validate(&self) -> Result<(), EmitError> {
        if self.vrid == 0 {
            return Err(EmitError::VridZero);
        }
        let n = self.addresses.len();
        if n == 0 || n > 255 {
            return Err(EmitError::AddressCount(n));
        }
        let centis = self.advert_interval.as_centis();
        match self.version {
            Version::V2 => {
                if self.addresses.family() == AddressFamily::Ipv6 {
                    return Err(EmitError::Unsupported("VRRPv2 is IPv4 only"));
                }
                if centis == 0 || !centis.is_multiple_of(100) || centis / 100 > 255 {
                    return Err(EmitError::Interval {
                        centis,
                        version: self.version,
                    });
                }
            }
            Version::V3 => {
                if centis == 0 || centis > Interval::MAX_V3.as_centis() {
                    return Err(EmitError::Interval {
                        centis,
                        version: self.version,
                    });
                }
                if self.auth != Auth::None {
                    return Err(EmitError::Unsupported("VRRPv3 has no authentication"));
                }
            }
        }
        Ok(())
    }

    /// Writes the message into the start of `buf` with its checksum and returns the bytes
    /// written ([`buffer_len`](Self::buffer_len)).
    pub fn emit(&self, buf: &mut [u8], ck: &ChecksumContext) -> Result<usize, EmitError> {
        self.validate()?;
        let family = self.addresses.family();
        if AddressFamily::of(&ck.src) != family || AddressFamily::of(&ck.dst) != family {
            return Err(EmitError::FamilyMismatch);
        }
        let len = self.buffer_len();
        let Some(out) = buf.get_mut(..len) else {
            return Err(EmitError::BufferTooSmall {
                needed: len,
                len: buf.len(),
            });
        };
        let mut packet = Packet::new_unchecked(&mut *out);
        packet.set_version_type(self.version.number(), TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        // validate() bounds the count to 1..=255.
        packet.set_count(self.addresses.len() as u8);
        match self.version {
            // RFC 9568 §5.2.6-5.2.7: reserved bits zero, interval in centiseconds.
            Version::V3 => packet.set_max_advert_interval_v3(self.advert_interval.as_centis()),
            Version::V2 => {
                packet.set_auth_type_v2(self.auth.type_number());
                // validate() bounds this to 1..=255 seconds.
                packet.set_advert_interval_v2((self.advert_interval.as_centis() / 100) as u8);
            }
        }
        packet.set_checksum(0);
        let addr_end = HEADER_LEN + self.addresses.len() * family.address_len();
        self.addresses
            .write(&mut packet.buffer[HEADER_LEN..addr_end]);
        if self.version == Version::V2 {
            let data = match self.auth {
                Auth::None => [0u8; AUTH_DATA_LEN],
                Auth::SimplePassword(p) => p,
            };
            packet.buffer[addr_end..addr_end + AUTH_DATA_LEN].copy_from_slice(&data);
        }
        packet.fill_checksum(ck.mode, ck.src, ck.dst)?;
        Ok(len)
    }
}

impl fmt::Display for VrrpRepr<'_> {
    /// One line, tcpdump-like: `VRRPv3 advert vrid 51 prio 100 intvl 1s addrs 1 [192.0.2.100]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VRRP{} advert vrid {} prio {} intvl {}",
            self.version, self.vrid, self.priority, self.advert_interval
        )?;
        if let Auth::SimplePassword(p) = self.auth {
            f.write_str(" auth simple \"")?;
            for b in p.iter().take_while(|b| **b != 0) {
                write!(f, "{}", char::from(*b).escape_default())?;
            }
            f.write_str("\"")?;
        }
        write!(f, " addrs {} [", self.addresses.len())?;
        for (i, a) in self.addresses.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str("]")
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    /// One line, even for an invalid or truncated message: every field that is present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.as_bytes();
        if bytes.len() < HEADER_LEN {
            return write!(f, "VRRP truncated ({} bytes)", bytes.len());
        }
        write!(
            f,
            "VRRP version {} type {} vrid {} prio {} count {}",
            self.version(),
            self.msg_type(),
            self.vrid(),
            self.priority(),
            self.count()
        )?;
        if self.version() == 2 {
            write!(
                f,
                " auth {} intvl {}s",
                self.auth_type_v2(),
                self.advert_interval_v2()
            )?;
        } else {
            write!(f, " intvl {}cs", self.max_advert_interval_v3())?;
        }
        write!(f, " cksum 0x{:04x} len {}", self.checksum(), bytes.len())?;
        match self.infer_family().and_then(|fam| self.addresses(fam)) {
            Some(list) => {
                f.write_str(" [")?;
                for (i, a) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("]")
            }
            None => f.write_str(" [addresses incomplete]"),
        }
    }
}

/// The name of one receive check, as reported by [`crate::inspect`] and `vrrpd decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CheckName {
    /// The Ethernet header is complete and carries IPv4 or IPv6.
    Ethernet,
    /// The IP header: version, header length, total length, not a fragment.
    IpHeader,
    /// IPv4 header checksum.
    Ipv4HeaderChecksum,
    /// IP protocol / next header is 112.
    Protocol,
    /// TTL / hop limit is 255 (RFC 9568 §7.1).
    Ttl,
    /// IPv6 source is link-local (RFC 9568 §5.1.2.1).
    SourceLinkLocal,
    /// The VRRP message holds at least the 8-byte header.
    HeaderLength,
    /// Version is 2 or 3.
    Version,
    /// VRRPv2 is carried over IPv4.
    AddressFamily,
    /// Type is 1 (ADVERTISEMENT).
    Type,
    /// VRID is not 0.
    Vrid,
    /// Count IPvX Addr is not 0.
    AddressCount,
    /// Length equals 8 + Count × address size (+ 8 for v2).
    Length,
    /// The interval is not 0.
    Interval,
    /// VRRPv2 auth type is 0 or 1.
    AuthType,
    /// The checksum is right in a form allowed for the version and family.
    Checksum,
    /// The VRID is one configured here.
    VridConfigured,
    /// The version is the configured one.
    VersionConfigured,
    /// VRRPv2: the interval equals ours.
    IntervalConfigured,
    /// VRRPv2: the authentication equals ours.
    AuthConfigured,
}

impl CheckName {
    /// The snake_case name used in reports and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckName::Ethernet => "ethernet",
            CheckName::IpHeader => "ip_header",
            CheckName::Ipv4HeaderChecksum => "ipv4_header_checksum",
            CheckName::Protocol => "protocol",
            CheckName::Ttl => "ttl",
            CheckName::SourceLinkLocal => "source_link_local",
            CheckName::HeaderLength => "header_length",
            CheckName::Version => "version",
            CheckName::AddressFamily => "address_family",
            CheckName::Type => "type",
            CheckName::Vrid => "vrid",
            CheckName::AddressCount => "address_count",
            CheckName::Length => "length",
            CheckName::Interval => "interval",
            CheckName::AuthType => "auth_type",
            CheckName::Checksum => "checksum",
            CheckName::VridConfigured => "vrid_configured",
            CheckName::VersionConfigured => "version_configured",
            CheckName::IntervalConfigured => "interval_configured",
            CheckName::AuthConfigured => "auth_configured",
        }
    }
}

/// Number of structural checks ([`structure_check`] indices `0..STRUCTURE_CHECKS`).
pub(crate) const STRUCTURE_CHECKS: usize = 8;

/// Structural receive check number `index` (RFC 9568 §7.1, RFC 3768 §7.1), in the order
/// [`VrrpRepr::parse_structure`] applies them and stops at the first failure, while
/// [`crate::inspect`] evaluates them all so that a report names every failure. `None` means
/// "not applicable" (the length of a message of unknown version, the auth type of VRRPv3).
/// The buffer must hold the 8-byte header. One function serves both callers so that they
/// cannot disagree; it is inlined into a loop over constant indices.
#[inline(always)]
pub(crate) fn structure_check<T: AsRef<[u8]> + ?Sized>(
    index: usize,
    packet: &Packet<&T>,
    family: AddressFamily,
) -> (CheckName, Option<Result<(), DecodeError>>) {
    let ok_if = |cond: bool, err: DecodeError| Some(if cond { Ok(()) } else { Err(err) });
    let version = Version::from_number(packet.version());
    match index {
        // RFC 9568 §7.1: "MUST verify that the VRRP version is valid"; which version is
        // configured is a MismatchError.
        0 => (
            CheckName::Version,
            ok_if(version.is_some(), DecodeError::Version(packet.version())),
        ),
        // RFC 3768 §1: VRRPv2 is defined for IPv4 only.
        1 => (
            CheckName::AddressFamily,
            ok_if(
                !(version == Some(Version::V2) && family == AddressFamily::Ipv6),
                DecodeError::V2OverIpv6,
            ),
        ),
        // RFC 9568 §5.2.2: ADVERTISEMENT (1) is the only type; others are discarded.
        2 => (
            CheckName::Type,
            ok_if(
                packet.msg_type() == TYPE_ADVERTISEMENT,
                DecodeError::Type(packet.msg_type()),
            ),
        ),
        // RFC 9568 §5.2.3: VRID is 1..255.
        3 => (
            CheckName::Vrid,
            ok_if(packet.vrid() != 0, DecodeError::VridZero),
        ),
        // RFC 9568 §5.2.5 and erratum 8299 (§7.1): Count IPvX Addr is at least 1.
        4 => (
            CheckName::AddressCount,
            ok_if(packet.count() != 0, DecodeError::AddressCountZero),
        ),
        // RFC 9568 §7.1: the packet must contain the complete message. Like keepalived we
        // also refuse trailing bytes, which a Count smaller than the addresses present leaves.
        5 => (
            CheckName::Length,
            version.map(|_| {
                let len = packet.as_bytes().len();
                let expected = packet.expected_len(family);
                if len == expected {
                    Ok(())
                } else {
                    Err(DecodeError::Length {
                        expected,
                        actual: len,
                        count: packet.count(),
                    })
                }
            }),
        ),
        // RFC 9568 erratum 8301: a zero interval is malformed.
        6 => (
            CheckName::Interval,
            version.and_then(|_| {
                ok_if(
                    packet.advert_interval().as_centis() != 0,
                    DecodeError::IntervalZero,
                )
            }),
        ),
        // RFC 3768 §5.3.6: auth types 0 and 1 (RFC 2338's simple password) only; type 2
        // (IP AH) was removed. VRRPv3 has no auth field.
        _ => (
            CheckName::AuthType,
            match version {
                Some(Version::V2) => ok_if(
                    packet.auth_type_v2() <= 1,
                    DecodeError::AuthType(packet.auth_type_v2()),
                ),
                _ => None,
            },
        ),
    }
}
