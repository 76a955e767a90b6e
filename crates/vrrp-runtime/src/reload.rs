//! Reload: what changes between the configuration in force and a new one (a pure plan), and
//! the report of what a reload did.
//!
//! An instance is **unchanged** when its own table is identical, every probe it tracks is
//! identical, its sync group (name, members, notify) is identical, and the globals it uses are
//! identical (`script_user` and `notify_timeout` when it or its group has notify scripts). An
//! unchanged instance keeps its router, state, timers and sockets: no transition, no gap in
//! adverts. Every other instance present in both configs is **changed** and re-applied: it
//! hands over gracefully (VIPs removed, priority-0 advert if master) and starts again with
//! the new config. A probe is changed when its table differs (or, for an `exec` probe,
//! `script_user` does): it is restarted.

use std::fmt;

use serde::Serialize;
use vrrp_config::{Config, Instance, ProbeKind};

/// What a reload did. Names are in configuration order (removed ones in the old order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReloadReport {
    /// Instances left exactly as they were (state, timers, sockets).
    pub unchanged: Vec<String>,
    /// Instances handed over and started again with their new configuration.
    pub changed: Vec<String>,
    /// Instances started.
    pub added: Vec<String>,
    /// Instances handed over and stopped.
    pub removed: Vec<String>,
    /// Probes started (new in the config).
    pub probes_started: Vec<String>,
    /// Probes stopped and started again with their new definition.
    pub probes_restarted: Vec<String>,
    /// Probes stopped (gone from the config).
    pub probes_stopped: Vec<String>,
    /// What could not be started after the old instances were stopped (an interface that
    /// vanished between the check and the start, a VMAC or socket that could not be
    /// created), with the reason. Empty on a clean reload.
    pub failed: Vec<Failure>,
}

/// Something a reload could not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What: `instance NAME`, `probe NAME` or `sync group NAME`.
    pub what: String,
    /// Why, as text.
    pub error: String,
}

impl ReloadReport {
    /// Whether the reload changed nothing at all.
    pub fn is_noop(&self) -> bool {
        self.changed.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.probes_started.is_empty()
            && self.probes_restarted.is_empty()
            && self.probes_stopped.is_empty()
            && self.failed.is_empty()
    }
}

impl fmt::Display for ReloadReport {
    /// One line: `instances: 2 unchanged, 1 re-applied (VI_2), 0 added, 0 removed; probes:
    /// 0 started, 1 restarted (nginx), 0 stopped`, plus the failures if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn part(f: &mut fmt::Formatter<'_>, what: &str, names: &[String]) -> fmt::Result {
            write!(f, "{} {what}", names.len())?;
            if !names.is_empty() {
                write!(f, " ({})", names.join(", "))?;
            }
            Ok(())
        }
        write!(f, "instances: {} unchanged, ", self.unchanged.len())?;
        part(f, "re-applied", &self.changed)?;
        f.write_str(", ")?;
        part(f, "added", &self.added)?;
        f.write_str(", ")?;
        part(f, "removed", &self.removed)?;
        f.write_str("; probes: ")?;
        part(f, "started", &self.probes_started)?;
        f.write_str(", ")?;
        part(f, "restarted", &self.probes_restarted)?;
        f.write_str(", ")?;
        part(f, "stopped", &self.probes_stopped)?;
        for failed in &self.failed {
            write!(f, "; {} failed to start: {}", failed.what, failed.error)?;
        }
        Ok(())
    }
}

/// What a reload from `old` to `new` must do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) unchanged: Vec<String>,
    pub(crate) changed: Vec<String>,
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
    pub(crate) probes_added: Vec<String>,
    pub(crate) probes_changed: Vec<String>,
    pub(crate) probes_removed: Vec<String>,
}

impl Plan {
    /// Instances to stop (changed and removed), in the old config's order.
    pub(crate) fn to_stop<'a>(&'a self, old: &'a Config) -> impl Iterator<Item = &'a str> + 'a {
        old.instances
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| self.changed.iter().chain(&self.removed).any(|c| c == n))
    }

    /// Instances to start (changed and added), in the new config's order.
    pub(crate) fn to_start<'a>(&'a self, new: &'a Config) -> impl Iterator<Item = &'a Instance> {
        new.instances
            .iter()
            .filter(|i| self.changed.iter().chain(&self.added).any(|c| *c == i.name))
    }
}

/// Compares two configurations; see the module documentation for what counts as a change.
pub(crate) fn plan(old: &Config, new: &Config) -> Plan {
    let mut plan = Plan::default();
    for name in new.probes.keys() {
        if !old.probes.contains_key(name) {
            plan.probes_added.push(name.clone());
        } else if probe_changed(old, new, name) {
            plan.probes_changed.push(name.clone());
        }
    }
    for name in old.probes.keys() {
        if !new.probes.contains_key(name) {
            plan.probes_removed.push(name.clone());
        }
    }
    for inst in &new.instances {
        match old.instance(&inst.name) {
            None => plan.added.push(inst.name.clone()),
            Some(before) if instance_unchanged(old, new, before, inst) => {
                plan.unchanged.push(inst.name.clone())
            }
            Some(_) => plan.changed.push(inst.name.clone()),
        }
    }
    for inst in &old.instances {
        if new.instance(&inst.name).is_none() {
            plan.removed.push(inst.name.clone());
        }
    }
    plan
}

/// Whether probe `name` (present in both) differs, counting `script_user` for exec probes.
fn probe_changed(old: &Config, new: &Config, name: &str) -> bool {
    let (Some(a), Some(b)) = (old.probes.get(name), new.probes.get(name)) else {
        return true;
    };
    a != b
        || (matches!(b.kind, ProbeKind::Exec(_))
            && old.global.script_user != new.global.script_user)
}

fn instance_unchanged(old: &Config, new: &Config, before: &Instance, after: &Instance) -> bool {
    if before != after {
        return false;
    }
    if after
        .track
        .iter()
        .any(|probe| probe_changed(old, new, probe))
    {
        return false;
    }
    let (group_before, group_after) = (
        old.sync_group_of(&before.name),
        new.sync_group_of(&after.name),
    );
    if group_before != group_after {
        return false;
    }
    let runs_scripts = after.notify.commands().next().is_some()
        || group_after.is_some_and(|g| g.notify.commands().next().is_some());
    !runs_scripts
        || (old.global.script_user == new.global.script_user
            && old.global.notify_timeout == new.global.notify_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        vrrp_config::LoadedConfig::parse("t.toml", text)
            .unwrap()
            .config
    }

    const BASE: &str = r#"
[global]
router_id = "a"

[probe.nginx]
kind = "process"
process = "nginx"
weight = -50

[probe.spare]
kind = "tcp"
port = 80

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
advert_interval = "100ms"
virtual_ips = ["192.0.2.100/24"]
track = ["nginx"]

[[instance]]
name = "VI_2"
interface = "eth0"
vrid = 52
advert_interval = "100ms"
virtual_ips = ["192.0.2.200/24"]
"#;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_same_config_changes_nothing() {
        let p = plan(&config(BASE), &config(BASE));
        assert_eq!(p.unchanged, names(&["VI_1", "VI_2"]));
        assert!(p.changed.is_empty() && p.added.is_empty() && p.removed.is_empty());
        assert!(p.probes_added.is_empty() && p.probes_changed.is_empty());
        assert!(p.probes_removed.is_empty());
    }

    #[test]
    fn globals_an_instance_does_not_use_change_nothing() {
        let new = BASE
            .replace("router_id = \"a\"", "router_id = \"b\"\nscript_user = \"daemon\"\nnotify_timeout = \"3s\"\nmetrics = \"127.0.0.1:9688\"");
        let p = plan(&config(BASE), &config(&new));
        assert_eq!(p.unchanged, names(&["VI_1", "VI_2"]));
    }

    #[test]
    fn a_changed_priority_re_applies_only_that_instance() {
        let new = BASE.replace("vrid = 52\n", "vrid = 52\npriority = 50\n");
        let p = plan(&config(BASE), &config(&new));
        assert_eq!(p.unchanged, names(&["VI_1"]));
        assert_eq!(p.changed, names(&["VI_2"]));
    }

    #[test]
    fn a_changed_probe_restarts_it_and_re_applies_its_trackers() {
        let new = BASE.replace("weight = -50", "weight = -60");
        let p = plan(&config(BASE), &config(&new));
        assert_eq!(p.probes_changed, names(&["nginx"]));
        assert_eq!(p.changed, names(&["VI_1"]));
        assert_eq!(p.unchanged, names(&["VI_2"]));
        // A probe no instance tracks changes no instance.
        let new = BASE.replace("port = 80", "port = 81");
        let p = plan(&config(BASE), &config(&new));
        assert_eq!(p.probes_changed, names(&["spare"]));
        assert_eq!(p.unchanged, names(&["VI_1", "VI_2"]));
    }

    #[test]
    fn added_and_removed_instances_and_probes() {
        let new = BASE
            .replace(
                "[probe.spare]\nkind = \"tcp\"\nport = 80\n",
                "[probe.other]\nkind = \"tcp\"\nport = 81\n",
            )
            .replace("name = \"VI_2\"", "name = \"VI_3\"");
        let p = plan(&config(BASE), &config(&new));
        assert_eq!(p.added, names(&["VI_3"]));
        assert_eq!(p.removed, names(&["VI_2"]));
        assert_eq!(p.probes_added, names(&["other"]));
        assert_eq!(p.probes_removed, names(&["spare"]));
        let old = config(BASE);
        let newc = config(&new);
        assert_eq!(p.to_stop(&old).collect::<Vec<_>>(), ["VI_2"]);
        assert_eq!(
            p.to_start(&newc)
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>(),
            ["VI_3"]
        );
    }

    #[test]
    fn a_sync_group_change_re_applies_its_members() {
        let grouped =
            format!("{BASE}\n[[sync_group]]\nname = \"G\"\ninstances = [\"VI_1\", \"VI_2\"]\n");
        let p = plan(&config(BASE), &config(&grouped));
        assert_eq!(p.changed, names(&["VI_1", "VI_2"]));
        let p = plan(&config(&grouped), &config(&grouped));
        assert_eq!(p.unchanged, names(&["VI_1", "VI_2"]));
        // Group notify: script_user and notify_timeout now matter to both members.
        let with_notify = format!("{grouped}notify = \"/bin/true\"\n");
        let other_user = with_notify.replace("router_id = \"a\"", "script_user = \"daemon\"");
        let p = plan(&config(&with_notify), &config(&other_user));
        assert_eq!(p.changed, names(&["VI_1", "VI_2"]));
    }

    #[test]
    fn notify_scripts_make_script_user_matter() {
        let with_notify = BASE.replace("vrid = 52\n", "vrid = 52\nnotify = \"/bin/true\"\n");
        let slower = with_notify.replace("router_id = \"a\"", "notify_timeout = \"3s\"");
        let p = plan(&config(&with_notify), &config(&slower));
        assert_eq!(p.unchanged, names(&["VI_1"]));
        assert_eq!(p.changed, names(&["VI_2"]));
    }

    #[test]
    fn exec_probes_depend_on_script_user() {
        let exec = BASE.replace(
            "kind = \"process\"\nprocess = \"nginx\"",
            "kind = \"exec\"\ncommand = \"/bin/true\"",
        );
        let other_user = exec.replace("router_id = \"a\"", "script_user = \"daemon\"");
        let p = plan(&config(&exec), &config(&other_user));
        assert_eq!(p.probes_changed, names(&["nginx"]));
        assert_eq!(p.changed, names(&["VI_1"]));
    }

    #[test]
    fn the_report_reads_as_one_line() {
        let report = ReloadReport {
            unchanged: names(&["VI_1"]),
            changed: names(&["VI_2"]),
            probes_restarted: names(&["nginx"]),
            failed: vec![Failure {
                what: "instance VI_3".into(),
                error: "interface eth9 does not exist".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            report.to_string(),
            "instances: 1 unchanged, 1 re-applied (VI_2), 0 added, 0 removed; probes: 0 started, \
             1 restarted (nginx), 0 stopped; instance VI_3 failed to start: interface eth9 does \
             not exist"
        );
        assert!(!report.is_noop());
        assert!(ReloadReport::default().is_noop());
    }
}
