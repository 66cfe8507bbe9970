//! Profiles: a stack URL with its tokens, in a file only its owner can read.
//!
//! `$STOWAGE_CONFIG_DIR/profiles.toml`, else `$XDG_CONFIG_HOME/stowage/profiles.toml`, else
//! `~/.config/stowage/profiles.toml`. `KBC_STORAGE_API_URL` with `KBC_STORAGE_TOKEN` work as with
//! Keboola's own tools and win over the default profile (an explicit `--profile` wins over them).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::CliError;

/// One stack and the tokens used with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub url: String,
    /// Storage API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Manage API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manage_token: Option<String>,
}

/// The profiles file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Profiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// Where the profiles file lives.
pub(crate) fn path() -> Result<PathBuf, CliError> {
    let dir =
        match (std::env::var_os("STOWAGE_CONFIG_DIR"), std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME")) {
            (Some(dir), _, _) => PathBuf::from(dir),
            (None, Some(config), _) => PathBuf::from(config).join("stowage"),
            (None, None, Some(home)) => PathBuf::from(home).join(".config").join("stowage"),
            _ => {
                return Err(CliError::new("cannot find a place for the profiles file: set HOME or STOWAGE_CONFIG_DIR"))
            }
        };
    Ok(dir.join("profiles.toml"))
}

impl Profiles {
    /// Reads the profiles file (none yet is an empty set).
    pub fn load() -> Result<Self, CliError> {
        let path = path()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|error| CliError::new(format!("{} is not a valid profiles file: {error}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
            Err(error) => Err(CliError::new(format!("cannot read {}: {error}", path.display()))),
        }
    }

    /// Writes the profiles file with owner-only permissions.
    pub fn save(&self) -> Result<PathBuf, CliError> {
        let path = path()?;
        let dir = path.parent().expect("a file in a directory");
        let fail = |error: std::io::Error| CliError::new(format!("cannot write {}: {error}", path.display()));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let text = toml::to_string(self).map_err(|error| CliError::new(format!("cannot write profiles: {error}")))?;
        let temporary = path.with_extension("toml.tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&temporary).map_err(fail)?;
            file.write_all(text.as_bytes()).map_err(fail)?;
        }
        std::fs::rename(&temporary, &path).map_err(fail)?;
        Ok(path)
    }

    /// The profile to use: `--profile`, else the Keboola environment variables, else the default.
    pub fn resolve(&self, name: Option<&str>) -> Result<Profile, CliError> {
        if let Some(name) = name {
            return self.profiles.get(name).cloned().ok_or_else(|| {
                CliError::auth(format!("no profile \"{name}\": run `stowage login --url URL --profile {name}`"))
            });
        }
        if let Ok(url) = std::env::var("KBC_STORAGE_API_URL") {
            return Ok(Profile {
                url,
                token: std::env::var("KBC_STORAGE_TOKEN").ok(),
                manage_token: std::env::var("STOWAGE_MANAGE_TOKEN").ok(),
            });
        }
        let default = self.default.as_deref().unwrap_or("default");
        self.profiles.get(default).cloned().ok_or_else(|| {
            CliError::auth(
                "no profile: run `stowage login --url URL`, or set KBC_STORAGE_API_URL and KBC_STORAGE_TOKEN",
            )
        })
    }
}
