//! Counters: RFC 6527 (VRRPv3-MIB) statistics plus our own.

/// Counters of one virtual router (or, in [`Node::stats`](crate::Node::stats), of packets
/// that could not be given to any router). Names follow RFC 6527 where it has the statistic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// vrrpv3StatisticsMasterTransitions: times this router became master.
    pub master_transitions: u64,
    /// vrrpv3StatisticsRcvdAdvertisements: adverts that reached this router.
    pub adverts_received: u64,
    /// Adverts sent (ours), including priority-0 ones.
    pub adverts_sent: u64,
    /// vrrpv3StatisticsRcvdPriZeroPackets.
    pub priority_zero_received: u64,
    /// vrrpv3StatisticsSentPriZeroPackets.
    pub priority_zero_sent: u64,
    /// vrrpv3RouterChecksumErrors.
    pub checksum_errors: u64,
    /// vrrpv3RouterVersionErrors (bad version field, or not our version).
    pub version_errors: u64,
    /// vrrpv3RouterVrIdErrors (VRID not configured, or VRID 0).
    pub vrid_errors: u64,
    /// vrrpv3StatisticsIpTtlErrors.
    pub ttl_errors: u64,
    /// vrrpv3StatisticsPacketLengthErrors.
    pub packet_length_errors: u64,
    /// vrrpv3StatisticsRcvdInvalidType.
    pub invalid_type: u64,
    /// vrrpv3StatisticsAddressListErrors (count 0, or a list different from ours).
    pub address_list_errors: u64,
    /// vrrpv3StatisticsAdvIntervalErrors (zero interval; v2: different from ours).
    pub interval_errors: u64,
    /// VRRPv2 authentication type or password mismatch.
    pub auth_errors: u64,
    /// Unicast mode: adverts from a source that is not a peer.
    pub unicast_source_errors: u64,
    /// IP-level errors the runtime passed on (protocol, header, Ethernet).
    pub ip_errors: u64,
    /// IPv6 source that is not link-local.
    pub source_errors: u64,
    /// Source of the wrong family for the router.
    pub family_errors: u64,
    /// Adverts ignored because we are the address owner (RFC 9568 §7.1).
    pub owner_discards: u64,
    /// Our own adverts seen again (multicast loopback).
    pub own_adverts: u64,
    /// Received VRRPv3/IPv4 adverts whose checksum included the IPv4 pseudo-header.
    pub checksum_pseudo_header: u64,
    /// Received VRRPv3/IPv4 adverts whose checksum covered the message only.
    pub checksum_message_only: u64,
    /// Adverts we could not encode (should never happen with a validated config).
    pub emit_errors: u64,
    /// Counter names we do not know (a newer codec's error); kept so nothing is lost.
    pub other_errors: u64,
}

impl Stats {
    /// Increments the counter named `name` (as returned by `counter()` of the codec's
    /// errors and of [`DiscardReason`](crate::DiscardReason)).
    pub fn increment(&mut self, name: &str) {
        let field = match name {
            "checksum_errors" => &mut self.checksum_errors,
            "version_errors" => &mut self.version_errors,
            "vrid_errors" => &mut self.vrid_errors,
            "ttl_errors" => &mut self.ttl_errors,
            "packet_length_errors" => &mut self.packet_length_errors,
            "invalid_type" => &mut self.invalid_type,
            "address_list_errors" => &mut self.address_list_errors,
            "interval_errors" => &mut self.interval_errors,
            "auth_errors" => &mut self.auth_errors,
            "unicast_source_errors" => &mut self.unicast_source_errors,
            "ip_errors" => &mut self.ip_errors,
            "source_errors" => &mut self.source_errors,
            "family_errors" => &mut self.family_errors,
            "owner_discards" => &mut self.owner_discards,
            "own_adverts" => &mut self.own_adverts,
            _ => &mut self.other_errors,
        };
        *field += 1;
    }

    /// Every counter as `(name, value)`, in a fixed order (for status output and tests).
    pub fn fields(&self) -> [(&'static str, u64); 24] {
        [
            ("master_transitions", self.master_transitions),
            ("adverts_received", self.adverts_received),
            ("adverts_sent", self.adverts_sent),
            ("priority_zero_received", self.priority_zero_received),
            ("priority_zero_sent", self.priority_zero_sent),
            ("checksum_errors", self.checksum_errors),
            ("version_errors", self.version_errors),
            ("vrid_errors", self.vrid_errors),
            ("ttl_errors", self.ttl_errors),
            ("packet_length_errors", self.packet_length_errors),
            ("invalid_type", self.invalid_type),
            ("address_list_errors", self.address_list_errors),
            ("interval_errors", self.interval_errors),
            ("auth_errors", self.auth_errors),
            ("unicast_source_errors", self.unicast_source_errors),
            ("ip_errors", self.ip_errors),
            ("source_errors", self.source_errors),
            ("family_errors", self.family_errors),
            ("owner_discards", self.owner_discards),
            ("own_adverts", self.own_adverts),
            ("checksum_pseudo_header", self.checksum_pseudo_header),
            ("checksum_message_only", self.checksum_message_only),
            ("emit_errors", self.emit_errors),
            ("other_errors", self.other_errors),
        ]
    }
}
