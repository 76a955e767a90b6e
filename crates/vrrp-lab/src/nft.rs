//! nftables rules on the lab bridge: partitions and random loss (`tc netem` does not work
//! here; `numgen random` does the job).

use crate::cmd;
use crate::error::Result;

/// Which frames a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Traffic {
    /// Every frame.
    All,
    /// IPv4 packets with this protocol number and IPv6 packets with this next header
    /// (112 is VRRP).
    IpProtocol(u8),
    /// ARP frames.
    Arp,
}

impl Traffic {
    /// VRRP (IP protocol 112), IPv4 and IPv6.
    pub const VRRP: Traffic = Traffic::IpProtocol(112);

    /// The nft match expressions (one rule each) for this traffic.
    fn matches(self) -> Vec<String> {
        match self {
            Traffic::All => vec![String::new()],
            Traffic::IpProtocol(p) => {
                vec![
                    format!("ether type ip ip protocol {p}"),
                    format!("ether type ip6 ip6 nexthdr {p}"),
                ]
            }
            Traffic::Arp => vec!["ether type arp".to_owned()],
        }
    }
}

/// One nftables table of drop rules in the LAN namespace; dropping the guard (or
/// [`remove`](NftRules::remove)) deletes it, healing the network.
#[derive(Debug)]
#[must_use = "the rules are removed when this guard is dropped"]
pub struct NftRules {
    namespace: String,
    table: String,
    installed: bool,
}

impl NftRules {
    /// Installs table `table` with a bridge forward chain holding `rules`.
    pub(crate) fn install(namespace: &str, table: &str, rules: &[String]) -> Result<Self> {
        let mut script = format!(
            "table bridge {table} {{\n  chain forward {{\n    type filter hook forward priority 0; policy accept;\n"
        );
        for rule in rules {
            script.push_str("    ");
            script.push_str(rule);
            script.push('\n');
        }
        script.push_str("  }\n}\n");
        cmd::run_with_stdin(
            &["ip", "netns", "exec", namespace, "nft", "-f", "-"],
            Some(&script),
        )?;
        Ok(Self {
            namespace: namespace.to_owned(),
            table: table.to_owned(),
            installed: true,
        })
    }

    /// The rules between bridge ports `from` and `to` (one direction) for `traffic`.
    pub(crate) fn between(from: &str, to: &str, traffic: Traffic) -> Vec<String> {
        traffic
            .matches()
            .into_iter()
            .map(|m| format!("iifname \"{from}\" oifname \"{to}\" {m} drop"))
            .collect()
    }

    /// The rules that drop `percent`% of the frames entering and leaving bridge port `port`.
    pub(crate) fn random_loss(port: &str, percent: u8) -> Vec<String> {
        // nft checks the constant against the range of `mod 100` (0-99): 100% needs no numgen.
        let chance = match percent {
            0 => return Vec::new(),
            p if p >= 100 => String::new(),
            p => format!("numgen random mod 100 < {p} "),
        };
        vec![
            format!("iifname \"{port}\" {chance}drop"),
            format!("oifname \"{port}\" {chance}drop"),
        ]
    }

    /// The nftables table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Deletes the rules now.
    pub fn remove(mut self) -> Result<()> {
        self.installed = false;
        self.delete()
    }

    fn delete(&self) -> Result<()> {
        cmd::run(&[
            "ip",
            "netns",
            "exec",
            &self.namespace,
            "nft",
            "delete",
            "table",
            "bridge",
            &self.table,
        ])
        .map(drop)
    }
}

impl Drop for NftRules {
    fn drop(&mut self) {
        if self.installed {
            // The namespace may be gone already (lab dropped first): nothing to heal then.
            let _ = self.delete();
        }
    }
}
