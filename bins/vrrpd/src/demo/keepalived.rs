//! The comparison: keepalived with the classic Nginx setup operators copy from guides (a
//! shell health check forked every 2 s, fall 2, rise 1, a priority weight), in the same lab.

use std::path::{Path, PathBuf};

/// Debian's keepalived.
pub(crate) const KEEPALIVED: &str = "/usr/sbin/keepalived";
/// coreutils' stdbuf (it execs the command, so the pid stays keepalived's).
const STDBUF: &str = "/usr/bin/stdbuf";

/// One keepalived setup the demo compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Setup {
    /// Short name, in the JSON and the tables.
    pub(crate) key: &'static str,
    /// What it is, for people.
    pub(crate) title: &'static str,
    /// The master's priority.
    pub(crate) master_priority: u8,
    /// The backup's priority.
    pub(crate) backup_priority: u8,
    /// The check script's weight.
    pub(crate) weight: i32,
}

impl Setup {
    /// Whether a failing check can move the VIP at all: the master's lowered priority must
    /// fall below the backup's (keepalived's backup ignores an equal or higher one).
    pub(crate) fn weight_can_move_the_vip(&self) -> bool {
        i32::from(self.master_priority) + self.weight < i32::from(self.backup_priority)
    }

    /// Why the VIP stays put when the master's check fails, if it does.
    pub(crate) fn weight_note(&self) -> Option<String> {
        (!self.weight_can_move_the_vip()).then(|| {
            format!(
                "the failed check only lowers the master to {} - {} = {}, which still beats the \
                 backup's {}: the VIP never moves while the master's keepalived runs",
                self.master_priority,
                -self.weight,
                i32::from(self.master_priority) + self.weight,
                self.backup_priority
            )
        })
    }
}

/// The guide's numbers: master 100, backup 80, weight -10.
pub(crate) const ARTICLE: Setup = Setup {
    key: "keepalived_article",
    title: "keepalived, the classic guide's setup (priority 100/80, check weight -10)",
    master_priority: 100,
    backup_priority: 80,
    weight: -10,
};

/// The smallest fix: a weight large enough to bring the master below the backup.
pub(crate) const WEIGHT_30: Setup = Setup {
    key: "keepalived_weight_30",
    title: "keepalived, the same with check weight -30 (100 - 30 = 70 < 80)",
    master_priority: 100,
    backup_priority: 80,
    weight: -30,
};

/// The health check, in the style of the classic guides: is there an `nginx` process, and
/// does Nginx answer on loopback? keepalived forks it every `interval` seconds.
pub(crate) const CHECK_SCRIPT: &str = r#"#!/bin/bash
# Health check for keepalived's vrrp_script, written by `vrrpd demo` in the style of the
# classic keepalived + Nginx guides. Exit 0: healthy; anything else: failed.
#
# In the demo's lab every host shares the machine's process table, so the ps test also sees
# the other host's nginx; the HTTP test below is the one that notices a dead local Nginx.
if ! ps -e -o comm= | grep -qx nginx; then
    logger -t check_nginx "no nginx process" 2>/dev/null
    exit 1
fi
if command -v curl >/dev/null 2>&1; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 3 \
        http://127.0.0.1/nginx_health)
else
    # No curl: the same request through bash's /dev/tcp.
    code=$(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/80 &&
        printf "GET /nginx_health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n" >&3 &&
        head -n 1 <&3' 2>/dev/null | cut -d" " -f2)
fi
if [ "$code" != 200 ]; then
    logger -t check_nginx "Nginx answered '$code'" 2>/dev/null
    exit 1
fi
exit 0
"#;

/// keepalived.conf for one host of `setup`.
pub(crate) fn config(setup: &Setup, master: bool, router_id: &str, script: &Path) -> String {
    let (state, priority) = if master {
        ("MASTER", setup.master_priority)
    } else {
        ("BACKUP", setup.backup_priority)
    };
    format!(
        r#"# Written by `vrrpd demo`: the classic keepalived + Nginx setup, on the lab's addresses.
global_defs {{
    router_id {router_id}
    vrrp_garp_interval 1
    vrrp_gna_interval 1
    script_user root
}}

vrrp_script check_nginx {{
    script "{script}"
    interval 2
    fall 2
    rise 1
    weight {weight}
}}

vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass 1234abcd
    }}
    virtual_ipaddress {{
        192.0.2.100/24 dev eth0
    }}
    track_script {{
        check_nginx
    }}
}}
"#,
        script = script.display(),
        weight = setup.weight,
    )
}

/// The files of one keepalived instance in the lab directory.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    /// keepalived.conf.
    pub(crate) config: PathBuf,
    /// The parent's pid file.
    pub(crate) pid: PathBuf,
    /// The VRRP child's pid file.
    pub(crate) vrrp_pid: PathBuf,
}

impl Files {
    /// The files of host `number` under `dir`.
    pub(crate) fn new(dir: &Path, number: usize) -> Self {
        Self {
            config: dir.join(format!("keepalived-{number}.conf")),
            pid: dir.join(format!("keepalived-{number}.pid")),
            vrrp_pid: dir.join(format!("keepalived-{number}-vrrp.pid")),
        }
    }

    /// The command line: VRRP only, in the foreground, logging to the console (the lab's log
    /// file, line-buffered through coreutils' stdbuf when it is there, so the log is complete
    /// even when keepalived is killed), and no respawn of a killed child (a crash must stay a
    /// crash).
    pub(crate) fn argv(&self, config_id: &str) -> Vec<String> {
        let path = |p: &PathBuf| p.to_string_lossy().into_owned();
        let mut argv: Vec<String> = Vec::new();
        if Path::new(STDBUF).exists() {
            argv.extend([STDBUF.to_owned(), "-oL".into(), "-eL".into()]);
        }
        argv.extend([
            KEEPALIVED.to_owned(),
            "--vrrp".into(),
            "--dont-fork".into(),
            "--dont-respawn".into(),
            "--log-console".into(),
            "--log-detail".into(),
            "--no-syslog".into(),
            "--use-file".into(),
            path(&self.config),
            "--pid".into(),
            path(&self.pid),
            "--vrrp_pid".into(),
            path(&self.vrrp_pid),
            "--config-id".into(),
            config_id.to_owned(),
        ]);
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_weight_cannot_move_the_vip_and_minus_30_can() {
        assert!(!ARTICLE.weight_can_move_the_vip());
        assert!(
            ARTICLE
                .weight_note()
                .is_some_and(|n| n.contains("100 - 10 = 90, which still beats the backup's 80"))
        );
        assert!(WEIGHT_30.weight_can_move_the_vip());
        assert_eq!(WEIGHT_30.weight_note(), None);
        // Equal priorities do not move it either: the backup ignores an equal advert.
        let equal = Setup {
            weight: -20,
            ..ARTICLE
        };
        assert!(!equal.weight_can_move_the_vip());
    }

    #[test]
    fn the_config_carries_the_setup() {
        let text = config(&WEIGHT_30, false, "h2", Path::new("/tmp/x/check.sh"));
        for line in [
            "state BACKUP",
            "priority 80",
            "weight -30",
            "interval 2",
            "fall 2",
            "rise 1",
            "advert_int 1",
            "script \"/tmp/x/check.sh\"",
            "192.0.2.100/24 dev eth0",
            "virtual_router_id 51",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        let master = config(&ARTICLE, true, "h1", Path::new("/c.sh"));
        assert!(master.contains("state MASTER") && master.contains("priority 100"));
    }
}
