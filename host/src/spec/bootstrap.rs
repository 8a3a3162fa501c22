//! A spec's `Bootstrap` section: how a machine of the stack runs rkit itself (InfraKit's
//! seed). It says which keys sign the stack's bundle and how rkit is installed; from it comes
//! the user data `{{.Bootstrap.UserData}}`, a POSIX shell script that installs rkit, then runs
//! `rkit converge --follow-bundle` against the stack's state as a service.
//!
//! Invariants:
//! - The script is a pure function of the section and the state's location: every machine
//!   (the seed `rkit bootstrap` makes, the managers converge makes) gets the same text, so a
//!   new bundle never rolls the managers, and a new key or install method does.
//! - Every value from the spec reaches the shell single-quoted (`quote`), except `Install`,
//!   which is shell by definition (the operator's own, carried in a signed bundle).
//! - rkit fetched by `Rkit` is pinned: the manifest by the digest the reference gives, the
//!   binary by the layer digest that manifest names, both checked with `sha256sum` before
//!   the binary is made executable. Only `sh`, `curl`, `sha256sum`, `sed` and `tr` are used.
//! - The state must be S3: a file on the operator's machine is out of the machines' reach.

use serde::{Deserialize, Serialize};

/// The template that stands for the script.
pub const USER_DATA: &str = ".Bootstrap.UserData";

/// The first line after the shebang: how a member's user data is known to run rkit.
pub const MARK: &str = "# rkit bootstrap:";

/// A spec's `Bootstrap` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BootstrapSpec {
    /// The keys whose signature on the bundle the machines trust (`ed25519:BASE64`).
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// rkit's binary as published by `rkit bundle publish-rkit`: `HOST/REPO@sha256:HEX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rkit: Option<String>,
    /// Or a shell command that leaves rkit executable at `$RKIT_BIN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
    /// Time between the machines' converge ticks (default `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Where rkit lives on a machine (default `/var/lib/rkit`; `RKIT_HOME` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
}

/// rkit's binary in a registry, pinned: where to fetch it with curl.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinned {
    /// `http://HOST` for a loopback registry, else `https://HOST`.
    pub origin: String,
    pub repository: String,
    /// The manifest's digest, hex.
    pub manifest: String,
}

/// Reads `HOST[:PORT]/REPO@sha256:HEX`. The error is the message.
pub fn pinned(reference: &str) -> Result<Pinned, String> {
    let (place, digest) = reference.split_once("@sha256:").ok_or_else(|| {
        format!(
            "{reference:?} is not pinned: give HOST/REPO@sha256:DIGEST (what `rkit bundle \
             publish-rkit` prints)"
        )
    })?;
    let (host, repository) = place
        .split_once('/')
        .ok_or_else(|| format!("{reference:?}: expected HOST/REPO@sha256:DIGEST"))?;
    let hex_ok = digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex_ok {
        return Err(format!(
            "{reference:?}: the digest is not 64 lowercase hex digits"
        ));
    }
    let safe = |s: &str, extra: &[u8]| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b) || extra.contains(&b))
    };
    if !safe(host, b":[]") || !safe(repository, b"/") || repository.contains(':') {
        return Err(format!(
            "{reference:?}: a host and repository are letters, digits, - . _ /"
        ));
    }
    let hostname = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let loopback = hostname == "localhost"
        || hostname
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    Ok(Pinned {
        origin: format!("{}://{host}", if loopback { "http" } else { "https" }),
        repository: repository.to_string(),
        manifest: digest.to_string(),
    })
}

/// `text` as one single-quoted shell word.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl BootstrapSpec {
    /// Checks the section; the error names the field.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.trusted_keys.is_empty() {
            return Err((
                "TrustedKeys",
                "give the public key(s) the machines trust for the bundle (ed25519:…, the \
                 .pub of the key `rkit bootstrap --sign` uses)"
                    .into(),
            ));
        }
        for key in &self.trusted_keys {
            if key.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(("TrustedKeys", format!("{key:?}: a key has no spaces")));
            }
            crate::registry::signing::parse_public(key)
                .map_err(|e| ("TrustedKeys", format!("{key:?}: {e}")))?;
        }
        match (&self.rkit, &self.install) {
            (Some(_), Some(_)) => return Err(("Rkit", "give Rkit or Install, not both".into())),
            (None, None) => {
                return Err((
                    "Rkit",
                    "give Rkit (rkit's binary, HOST/REPO@sha256:…, from `rkit bundle \
                     publish-rkit`) or Install (a shell command leaving rkit at $RKIT_BIN)"
                        .into(),
                ));
            }
            (Some(r), None) => drop(pinned(r).map_err(|m| ("Rkit", m))?),
            (None, Some(_)) => {}
        }
        if let Some(i) = &self.interval {
            crate::duration::positive(i).map_err(|m| ("Interval", m))?;
        }
        if let Some(d) = &self.directory {
            let plain = d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
            let parts_ok = d
                .split('/')
                .skip(1)
                .all(|p| !p.is_empty() && p != "." && p != "..");
            if !d.starts_with('/') || !plain || !parts_ok {
                return Err((
                    "Directory",
                    format!(
                        "{d:?} is not an absolute path of letters, digits, / . _ - (no . or .. \
                         part, not /)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The user data of a machine of the stack whose state is at `state` (an `s3://`
    /// location). The section must have passed [`BootstrapSpec::check`].
    pub fn user_data(&self, state: &str) -> String {
        let directory = self.directory.as_deref().unwrap_or("/var/lib/rkit");
        let interval = self.interval.as_deref().unwrap_or("30s");
        let trust: String = self
            .trusted_keys
            .iter()
            .map(|k| format!(" --trust {}", quote(k)))
            .collect();
        let mut script = format!(
            "#!/bin/sh\n{MARK} this machine runs `rkit converge`, following the signed bundle\n\
             # of the stack whose state is at {state_comment}.\n\
             set -eu\n\
             RKIT_HOME=\"${{RKIT_HOME:-{home}}}\"\n\
             RKIT_BIN=\"$RKIT_HOME/bin/rkit\"\n\
             export RKIT_HOME RKIT_BIN\n\
             mkdir -p \"$RKIT_HOME/bin\" \"$RKIT_HOME/stack\"\n\
             chmod 0700 \"$RKIT_HOME\"\n\
             cd \"$RKIT_HOME\"\n\
             if [ ! -x \"$RKIT_BIN\" ]; then\n",
            state_comment = state.replace(['\n', '\r'], " "),
            home = directory,
        );
        script.push_str(&self.install_lines());
        script.push_str("fi\n");
        script.push_str(&format!(
            "set -- converge \"$RKIT_HOME/stack\" --follow-bundle --state {}{trust} --interval {}\n",
            quote(state),
            quote(interval)
        ));
        script.push_str(SELF_ID);
        script.push_str(SERVICE);
        script
    }

    /// The lines that put rkit at `$RKIT_BIN`.
    fn install_lines(&self) -> String {
        if let Some(command) = &self.install {
            return format!(
                "  {command}\n  [ -x \"$RKIT_BIN\" ] || {{ echo \"rkit: Install left no rkit at \
                 $RKIT_BIN\" >&2; exit 1; }}\n{RUNS_HERE}"
            );
        }
        let pin = pinned(self.rkit.as_deref().unwrap_or_default()).expect("checked");
        format!(
            "  BASE={base}\n  \
             curl -fsSL --retry 5 --retry-delay 2 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
             \"$BASE/manifests/sha256:{m}\" -o manifest.json\n  \
             echo '{m}  manifest.json' | sha256sum -c - >/dev/null\n  \
             LAYER=$(tr -d ' \\t\\r\\n' < manifest.json | sed -n 's/.*\"layers\":\\[{{[^}}]*\"digest\":\"sha256:\\([0-9a-f]\\{{64\\}}\\)\".*/\\1/p')\n  \
             [ -n \"$LAYER\" ] || {{ echo 'rkit: the manifest names no layer' >&2; exit 1; }}\n  \
             curl -fsSL --retry 5 --retry-delay 2 \"$BASE/blobs/sha256:$LAYER\" -o \"$RKIT_BIN.part\"\n  \
             echo \"$LAYER  $RKIT_BIN.part\" | sha256sum -c - >/dev/null\n  \
             chmod 0755 \"$RKIT_BIN.part\"\n  \
             mv \"$RKIT_BIN.part\" \"$RKIT_BIN\"\n{RUNS_HERE}",
            base = quote(&format!("{}/v2/{}", pin.origin, pin.repository)),
            m = pin.manifest,
        )
    }
}

/// Refuses a binary that does not run here (another platform's, published by mistake)
/// before it becomes a service that restarts forever.
const RUNS_HERE: &str = "  \"$RKIT_BIN\" --version >/dev/null 2>&1 || { echo \"rkit: $RKIT_BIN does not \
                         run on this machine (built for another platform?)\" >&2; rm -f \"$RKIT_BIN\"; \
                         exit 1; }\n";

/// Adds `--self-id` with the instance's ID from the metadata service (IMDSv2), so the
/// machine's converge leaves its own replacement to another manager; without an answer (not
/// on EC2) it goes without.
const SELF_ID: &str = r#"IMDS="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}"
IMDS="${IMDS%/}"
SELF_ID=""
for attempt in 1 2 3 4 5; do
  if TOKEN=$(curl -fsS -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$IMDS/latest/api/token" 2>/dev/null) \
    && SELF_ID=$(curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/instance-id" 2>/dev/null); then
    break
  fi
  SELF_ID=""
  sleep 1
done
case "$SELF_ID" in
  "" | *[!A-Za-z0-9-]*) echo "rkit: no instance ID from the metadata service: this converge may replace its own machine" >&2 ;;
  *) set -- "$@" --self-id "$SELF_ID" ;;
esac
"#;

/// Runs `rkit "$@"` as a service: the command written to `converge.sh`, each word
/// single-quoted (so no systemd specifier or shell expansion reaches it), run by a systemd unit
/// where systemd runs, else by a loop that restarts it, as the unit would (the converge's PID
/// in `converge.pid`).
const SERVICE: &str = r#"{
  printf '#!/bin/sh\nexec'
  for arg in "$RKIT_BIN" "$@"; do
    printf " '%s'" "$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")"
  done
  printf '\n'
} > converge.sh
chmod 0700 converge.sh
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && [ -z "${RKIT_NO_SYSTEMD:-}" ]; then
  cat > /etc/systemd/system/rkit-converge.service <<EOF
[Unit]
Description=rkit converge, following the stack's signed bundle
Wants=network-online.target
After=network-online.target

[Service]
WorkingDirectory=$RKIT_HOME
ExecStart=/bin/sh $RKIT_HOME/converge.sh
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
EOF
  systemctl daemon-reload
  systemctl enable --now rkit-converge.service
else
  nohup sh -c 'while :; do sh ./converge.sh & echo $! > converge.pid; wait $! || true; sleep 5; done' \
    >> converge.log 2>&1 &
  echo $! > supervisor.pid
fi
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        crate::registry::signing::public_text(&key.verifying_key())
    }
    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn section(rkit: Option<&str>, install: Option<&str>) -> BootstrapSpec {
        BootstrapSpec {
            trusted_keys: vec![key()],
            rkit: rkit.map(String::from),
            install: install.map(String::from),
            interval: None,
            directory: None,
        }
    }

    #[test]
    fn a_pinned_reference_is_read_and_anything_else_is_refused() {
        let p = pinned(&format!("127.0.0.1:5000/ops/rkit@sha256:{DIGEST}")).unwrap();
        assert_eq!(p.origin, "http://127.0.0.1:5000");
        assert_eq!(p.repository, "ops/rkit");
        assert_eq!(
            pinned(&format!("ghcr.io/acme/rkit@sha256:{DIGEST}"))
                .unwrap()
                .origin,
            "https://ghcr.io"
        );
        assert_eq!(
            pinned("ghcr.io/acme/rkit:v1").unwrap_err(),
            "\"ghcr.io/acme/rkit:v1\" is not pinned: give HOST/REPO@sha256:DIGEST (what `rkit \
             bundle publish-rkit` prints)"
        );
        assert!(pinned("ghcr.io/a'b@sha256:00").is_err());
        for (host, origin) in [
            ("127.evil.com", "https://127.evil.com"),
            ("[::1]:5000", "http://[::1]:5000"),
            ("localhost:5000", "http://localhost:5000"),
        ] {
            let p = pinned(&format!("{host}/r@sha256:{DIGEST}")).unwrap();
            assert_eq!(p.origin, origin);
        }
        assert!(pinned(&format!("ghcr.io/a$(x)@sha256:{DIGEST}")).is_err());
    }

    #[test]
    fn the_section_names_its_bad_field() {
        let mut s = section(None, None);
        assert_eq!(s.check().unwrap_err().0, "Rkit");
        s.install = Some("apt-get install -y rkit".into());
        assert_eq!(s.check(), Ok(()));
        s.trusted_keys = vec!["ed25519:nope".into()];
        assert_eq!(s.check().unwrap_err().0, "TrustedKeys");
        let mut s = section(Some("x@sha256:1"), None);
        assert_eq!(s.check().unwrap_err().0, "Rkit");
        s.rkit = None;
        s.install = Some("true".into());
        s.directory = Some("relative".into());
        assert_eq!(
            s.check().unwrap_err(),
            (
                "Directory",
                "\"relative\" is not an absolute path of letters, digits, / . _ - (no . or .. \
                 part, not /)"
                    .to_string()
            )
        );
        for bad in ["/", "/var/../etc", "/var//rkit", "/var/lib/rkit/"] {
            s.directory = Some(bad.into());
            assert_eq!(s.check().unwrap_err().0, "Directory", "{bad}");
        }
        s.directory = Some("/opt/rkit".into());
        assert_eq!(s.check(), Ok(()));
        s.trusted_keys = vec![format!("{}\n", key())];
        assert_eq!(s.check().unwrap_err().0, "TrustedKeys");
    }

    #[test]
    fn the_script_quotes_what_the_spec_gives_and_pins_the_binary() {
        let s = section(
            Some(&format!("127.0.0.1:5000/ops/rkit@sha256:{DIGEST}")),
            None,
        );
        let script = s.user_data("s3://b/it's.json");
        assert!(
            script.starts_with("#!/bin/sh\n# rkit bootstrap:"),
            "{script}"
        );
        assert!(
            script.contains("--state 's3://b/it'\\''s.json'"),
            "{script}"
        );
        assert!(script.contains(&format!("--trust '{}'", key())), "{script}");
        assert!(script.contains(&format!("echo '{DIGEST}  manifest.json' | sha256sum -c -")));
        assert!(script.contains("BASE='http://127.0.0.1:5000/v2/ops/rkit'"));
        assert_eq!(
            script,
            s.user_data("s3://b/it's.json"),
            "the same text every time"
        );
    }

    /// The script run as a machine runs it (rkit and curl stand-ins on the PATH, no systemd):
    /// the service gets every word as written, quotes, `$` and `%` included, and the
    /// instance's ID.
    #[test]
    fn the_service_runs_rkit_with_every_word_as_written() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let write = |path: &std::path::Path, text: &str| {
            std::fs::write(path, text).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write(
            &bin.join("curl"),
            "#!/bin/sh\ncase \"$*\" in *api/token*) echo t ;; *instance-id*) echo i-0abc ;; \
             *) exit 7 ;; esac\n",
        );
        let fake = dir.path().join("fake-rkit");
        write(
            &fake,
            "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\nfor a in \"$@\"; do printf '%s\\n' \
             \"$a\"; done > \"$RKIT_HOME/args.tmp\"\nmv \"$RKIT_HOME/args.tmp\" \
             \"$RKIT_HOME/args.txt\"\nexec sleep 30\n",
        );
        let home = dir.path().join("home");
        let state = "s3://bucket-b/it's $x %h \"q\".json";
        let script = section(None, Some("cp \"$FAKE_RKIT\" \"$RKIT_BIN\"")).user_data(state);
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let status = std::process::Command::new("sh")
            .args(["-c", &script])
            .env("PATH", &path)
            .env("RKIT_HOME", &home)
            .env("RKIT_NO_SYSTEMD", "1")
            .env("FAKE_RKIT", &fake)
            .status()
            .unwrap();
        assert!(status.success());
        let args = home.join("args.txt");
        for _ in 0..100 {
            if args.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let got = std::fs::read_to_string(&args).unwrap_or_default();
        for pid in ["supervisor.pid", "converge.pid"] {
            if let Ok(pid) = std::fs::read_to_string(home.join(pid)) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", pid.trim()])
                    .status();
            }
        }
        let key = key();
        let stack = format!("{}/stack", home.display());
        let want = [
            "converge",
            stack.as_str(),
            "--follow-bundle",
            "--state",
            state,
            "--trust",
            key.as_str(),
            "--interval",
            "30s",
            "--self-id",
            "i-0abc",
        ];
        assert_eq!(got.lines().collect::<Vec<_>>(), want);
    }

    /// The script as `sh` reads it: no syntax error, with either install method.
    #[test]
    fn the_script_is_valid_shell() {
        for s in [
            section(Some(&format!("localhost:5000/r@sha256:{DIGEST}")), None),
            section(None, Some("cp /usr/bin/true \"$RKIT_BIN\"")),
        ] {
            let out = std::process::Command::new("sh")
                .args(["-n", "-c", &s.user_data("s3://b/k.json")])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
