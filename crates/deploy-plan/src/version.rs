//! Version numbers as the tools print them (`v3.17.3+ge4da497`, `minikube version: v1.34.0`,
//! `Client Version: v1.32.4-dispatcher`, `skopeo version 1.9.3`, `nix (Nix) 2.8.0`).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The first `[v]MAJOR.MINOR[.PATCH]` in `text` (suffixes like `+g05fa379` or `-dispatcher`
/// are ignored). For `kubectl version --client` that is the client version, which comes first.
pub fn parse_version(text: &str) -> Option<Version> {
    text.split(|c: char| {
        c.is_whitespace() || c == ',' || c == '"' || c == '(' || c == ')' || c == ':'
    })
    .filter_map(|word| {
        let word = word.strip_prefix('v').unwrap_or(word);
        let core = word.split(['+', '-']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(patch) => patch.parse().ok()?,
            None => 0,
        };
        parts.next().is_none().then_some(Version {
            major,
            minor,
            patch,
        })
    })
    .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_version_outputs() {
        // `helm version --short`, helm 4 and 3 (from the aws-cdk kubectl layers).
        assert_eq!(
            parse_version("v4.1.4+g05fa379\n"),
            Some(Version::new(4, 1, 4))
        );
        assert_eq!(
            parse_version("v3.17.3+ge4da497\n"),
            Some(Version::new(3, 17, 3))
        );
        // `kubectl version --client` on this machine (google-cloud-sdk build) and from the layer.
        assert_eq!(
            parse_version("Client Version: v1.32.4-dispatcher\nKustomize Version: v5.5.0\n"),
            Some(Version::new(1, 32, 4))
        );
        assert_eq!(
            parse_version("Client Version: v1.35.2\nKustomize Version: v5.7.1\n"),
            Some(Version::new(1, 35, 2))
        );
        // `minikube version`.
        assert_eq!(
            parse_version(
                "minikube version: v1.34.0\ncommit: 210b148df93a80eb872ecbeb7e35281b3c582c61\n"
            ),
            Some(Version::new(1, 34, 0))
        );
        assert_eq!(
            parse_version("skopeo version 1.9.3\n"),
            Some(Version::new(1, 9, 3))
        );
        assert_eq!(
            parse_version("nix (Nix) 2.8.0\n"),
            Some(Version::new(2, 8, 0))
        );
        // `docker version --format '{{.Server.Version}}'`, `podman version --format '{{.Version}}'`.
        assert_eq!(parse_version("27.3.1\n"), Some(Version::new(27, 3, 1)));
        assert_eq!(parse_version("9.0.0\n"), Some(Version::new(9, 0, 0)));
        assert_eq!(parse_version("no version here"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn ordering() {
        assert!(Version::new(3, 15, 9) < Version::new(3, 16, 0));
        assert!(Version::new(4, 0, 0) > Version::new(3, 16, 0));
    }
}
