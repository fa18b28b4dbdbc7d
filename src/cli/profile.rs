//! The client config file and `dbosd config set|get|list|delete` (like `temporal env`).
//!
//! The file is TOML at `$DBOSD_CONFIG`, else `$XDG_CONFIG_HOME/dbosd/config.toml`, else
//! `~/.config/dbosd/config.toml`, with one table per named profile:
//!
//! ```toml
//! [profiles.default]
//! address = "localhost:50051"
//! [profiles.prod]
//! address = "https://dbosd.example.com:443"
//! token = "..."
//! database = "billing"   # the system database, for a dbosd serving several
//! tls_ca = "/etc/ssl/prod-ca.pem"
//! ```
//!
//! A connection setting comes from its flag, else its environment variable (clap merges those
//! two), else the profile chosen by `--profile`/`DBOSD_PROFILE` (default `default`).

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};

use serde::{Deserialize, Serialize};

use super::{
    args_more::{ConfigArgs, ConfigCommand},
    CliError, CliResult, ClientArgs,
};

/// One profile's settings (all optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub address: Option<String>,
    pub token: Option<String>,
    pub database: Option<String>,
    pub tls_ca: Option<String>,
    pub tls_client_cert: Option<String>,
    pub tls_client_key: Option<String>,
    pub tls_server_name: Option<String>,
}

/// The keys `config set` accepts, in file order.
const KEYS: [&str; 7] = [
    "address",
    "token",
    "database",
    "tls_ca",
    "tls_client_cert",
    "tls_client_key",
    "tls_server_name",
];

impl Profile {
    fn slot(&mut self, key: &str) -> Result<&mut Option<String>, CliError> {
        Ok(match key {
            "address" => &mut self.address,
            "token" => &mut self.token,
            "database" => &mut self.database,
            "tls_ca" => &mut self.tls_ca,
            "tls_client_cert" => &mut self.tls_client_cert,
            "tls_client_key" => &mut self.tls_client_key,
            "tls_server_name" => &mut self.tls_server_name,
            _ => {
                return Err(CliError::usage(format!(
                    "unknown key {key:?}; the keys are {}",
                    KEYS.join(", ")
                )))
            }
        })
    }
}

/// The whole file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// Where the config file is.
pub fn path() -> Result<PathBuf, CliError> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(p) = nonempty("DBOSD_CONFIG") {
        return Ok(PathBuf::from(p));
    }
    let base = match nonempty("XDG_CONFIG_HOME") {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(nonempty("HOME").ok_or_else(|| {
            CliError::from(
                "no config directory: set HOME, XDG_CONFIG_HOME or DBOSD_CONFIG".to_owned(),
            )
        })?)
        .join(".config"),
    };
    Ok(base.join("dbosd").join("config.toml"))
}

fn load() -> Result<(PathBuf, ConfigFile), CliError> {
    let path = path()?;
    let file = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| format!("config file {}: {}", path.display(), e.message()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
        Err(e) => return Err(format!("config file {}: {e}", path.display()).into()),
    };
    Ok((path, file))
}

fn save(path: &PathBuf, file: &ConfigFile) -> Result<(), CliError> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let text = toml::to_string(file).map_err(|e| format!("config file: {e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // 0600: the file may hold tokens.
    let tmp = path.with_extension("toml.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()).into())
}

/// The client arguments with unset connection settings taken from the chosen profile.
pub fn resolve(args: &ClientArgs) -> Result<ClientArgs, CliError> {
    let (path, mut file) = load()?;
    let name = args.profile.clone().unwrap_or_else(|| "default".to_owned());
    let profile = match file.profiles.remove(&name) {
        Some(p) => p,
        None if args.profile.is_none() => Profile::default(),
        None => {
            return Err(CliError::usage(format!(
                "--profile {name:?}: no such profile in {}",
                path.display()
            )))
        }
    };
    let mut out = args.clone();
    out.address = args.address.clone().or(profile.address);
    out.token = args.token.clone().or(profile.token);
    out.database = args.database.clone().or(profile.database);
    out.tls_ca = args.tls_ca.clone().or(profile.tls_ca.map(PathBuf::from));
    out.tls_client_cert = args
        .tls_client_cert
        .clone()
        .or(profile.tls_client_cert.map(PathBuf::from));
    out.tls_client_key = args
        .tls_client_key
        .clone()
        .or(profile.tls_client_key.map(PathBuf::from));
    out.tls_server_name = args.tls_server_name.clone().or(profile.tls_server_name);
    Ok(out)
}

/// `dbosd config ...`.
pub fn command(a: ConfigArgs) -> CliResult {
    let (path, mut file) = load()?;
    let name = a.profile;
    match a.command {
        ConfigCommand::Set(s) => {
            let profile = file.profiles.entry(name.clone()).or_default();
            *profile.slot(&s.key)? = Some(s.value);
            save(&path, &file)?;
            eprintln!("set {} in profile {name} ({})", s.key, path.display());
        }
        ConfigCommand::Get(g) => {
            let mut profile = file.profiles.get(&name).cloned().unwrap_or_default();
            match profile.slot(&g.key)? {
                Some(v) => outln!("{v}"),
                None => return Err(format!("{} is not set in profile {name}", g.key).into()),
            }
        }
        ConfigCommand::List(l) => {
            for (pname, profile) in &file.profiles {
                if !l.all && *pname != name {
                    continue;
                }
                let mut profile = profile.clone();
                for key in KEYS {
                    if let Some(v) = profile.slot(key)?.clone() {
                        let shown = if key == "token" { "****".to_owned() } else { v };
                        match l.all {
                            true => outln!("{pname}.{key} = {shown}"),
                            false => outln!("{key} = {shown}"),
                        }
                    }
                }
            }
        }
        ConfigCommand::Delete(d) => {
            match d.key {
                None => {
                    if file.profiles.remove(&name).is_none() {
                        return Err(format!("no profile {name} in {}", path.display()).into());
                    }
                }
                Some(key) => {
                    let profile = file.profiles.entry(name.clone()).or_default();
                    profile.slot(&key)?.take();
                }
            }
            save(&path, &file)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
