//! Who an `exec` probe runs as: a user looked up in `/etc/passwd`, parsed here (no libc, no
//! NSS: users from LDAP and the like are not found; use a local system user).

use crate::error::HealthError;

/// The password database.
pub(crate) const PASSWD: &str = "/etc/passwd";

/// A numeric user and primary group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// Finds `user` in passwd(5) text: `name:password:UID:GID:gecos:home:shell`.
pub(crate) fn find(passwd: &str, user: &str) -> Option<Credentials> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(Credentials { uid, gid })
    })
}

/// Looks `user` up in [`PASSWD`] for probe `probe`.
pub(crate) fn resolve(probe: &str, user: &str) -> Result<Credentials, HealthError> {
    let text = std::fs::read_to_string(PASSWD).map_err(|e| HealthError::UserDatabase {
        probe: probe.to_owned(),
        database: PASSWD.to_owned(),
        reason: e.to_string(),
    })?;
    find(&text, user).ok_or_else(|| HealthError::UnknownUser {
        probe: probe.to_owned(),
        user: user.to_owned(),
        database: PASSWD.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "root:x:0:0:root:/root:/bin/bash\n\
        # a comment line\n\
        broken-line\n\
        nobodyish:x:1:1::/:/bin/false\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
        bad:x:notanumber:1::/:/bin/false\n";

    #[test]
    fn finds_users_exactly() {
        assert_eq!(
            find(SAMPLE, "nobody"),
            Some(Credentials {
                uid: 65534,
                gid: 65534
            })
        );
        assert_eq!(find(SAMPLE, "root"), Some(Credentials { uid: 0, gid: 0 }));
        assert_eq!(find(SAMPLE, "nobod"), None);
        assert_eq!(find(SAMPLE, "bad"), None);
        assert_eq!(find(SAMPLE, "broken-line"), None);
        assert_eq!(find("", "nobody"), None);
    }

    #[test]
    fn resolve_reads_the_real_database() {
        // Every Linux system has root as uid 0.
        assert_eq!(
            resolve("p", "root").unwrap(),
            Credentials { uid: 0, gid: 0 }
        );
        let err = resolve("p", "no-such-user-vrrp-health").unwrap_err();
        assert!(
            err.to_string().contains("no-such-user-vrrp-health"),
            "{err}"
        );
    }
}
