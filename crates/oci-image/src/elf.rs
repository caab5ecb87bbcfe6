//! A check that a binary is a static 64-bit ELF executable, and which platform it is for
//! (x86-64 is `amd64`, AArch64 is `arm64`, as OCI configs name them).
//!
//! The images contain no libc and no dynamic loader: a dynamically linked binary would fail at
//! start with a confusing "no such file or directory". Catching it at build time is cheaper.
//! A dynamically linked executable always has a `PT_INTERP` program header naming its loader;
//! static (and static-pie) executables have none.

use anyhow::{Result, bail, ensure};

const PT_INTERP: u32 = 3;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// The CPU architectures the images are built for, named as in an OCI image config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Amd64,
    Arm64,
}

impl Architecture {
    /// The OCI / Go name (`GOARCH`): `amd64` or `arm64`.
    pub fn oci_name(self) -> &'static str {
        match self {
            Architecture::Amd64 => "amd64",
            Architecture::Arm64 => "arm64",
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Fails unless `bytes` is a little-endian ELF64 x86-64 or AArch64 executable without an
/// interpreter; returns its architecture.
pub fn ensure_static_executable(name: &str, bytes: &[u8]) -> Result<Architecture> {
    ensure!(
        bytes.get(..4) == Some(b"\x7fELF"),
        "{name} is not an ELF file"
    );
    ensure!(
        bytes.get(4) == Some(&2) && bytes.get(5) == Some(&1),
        "{name} is not a little-endian 64-bit ELF file"
    );
    let (Some(kind), Some(machine), Some(phoff), Some(phentsize), Some(phnum)) = (
        u16_at(bytes, 0x10),
        u16_at(bytes, 0x12),
        u64_at(bytes, 0x20),
        u16_at(bytes, 0x36),
        u16_at(bytes, 0x38),
    ) else {
        bail!("{name}: truncated ELF header");
    };
    ensure!(
        kind == ET_EXEC || kind == ET_DYN,
        "{name} is not an executable (ELF type {kind})"
    );
    let architecture = match machine {
        EM_X86_64 => Architecture::Amd64,
        EM_AARCH64 => Architecture::Arm64,
        _ => bail!("{name} is neither an x86-64 nor an AArch64 binary (ELF machine {machine})"),
    };
    for i in 0..u64::from(phnum) {
        let at = usize::try_from(phoff + i * u64::from(phentsize))?;
        let Some(p_type) = u32_at(bytes, at) else {
            bail!("{name}: program header {i} lies outside the file");
        };
        if p_type == PT_INTERP {
            bail!(
                "{name} is dynamically linked (it has an ELF interpreter), but the image has no \
                 libc: build it with RUSTFLAGS='-C target-feature=+crt-static' and an explicit \
                 --target"
            );
        }
    }
    Ok(architecture)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_dynamic_host_binary_is_rejected() {
        // gzip from PATH: dynamically linked on Debian and in a Nix build alike (unlike the
        // Nix sandbox's /bin/sh, which is a static busybox).
        let gzip = crate::tools::find("gzip").unwrap();
        let bytes = std::fs::read(&gzip).unwrap();
        let err = ensure_static_executable("gzip", &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dynamically linked"), "{err}");
    }

    #[test]
    fn non_elf_is_rejected() {
        assert!(ensure_static_executable("script", b"#!/bin/sh\necho hi\n").is_err());
        assert!(ensure_static_executable("short", b"\x7fELF\x02\x01").is_err());
    }

    #[test]
    fn a_header_without_interp_passes() {
        // A minimal ELF64 header with one PT_LOAD program header.
        let mut b = vec![0u8; 64 + 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[0x10..0x12].copy_from_slice(&ET_DYN.to_le_bytes());
        b[0x12..0x14].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(
            ensure_static_executable("min", &b).unwrap(),
            Architecture::Amd64
        );
        b[0x12..0x14].copy_from_slice(&EM_AARCH64.to_le_bytes());
        assert_eq!(
            ensure_static_executable("min", &b).unwrap(),
            Architecture::Arm64
        );
        b[0x12..0x14].copy_from_slice(&40u16.to_le_bytes()); // EM_ARM, 32-bit Arm
        let err = ensure_static_executable("min", &b).unwrap_err().to_string();
        assert!(err.contains("ELF machine 40"), "{err}");
        b[0x12..0x14].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[64..68].copy_from_slice(&PT_INTERP.to_le_bytes());
        assert!(ensure_static_executable("min", &b).is_err());
    }
}
