//! `login`, `project`, `user` and `token`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use stowage_client::remote::Remote;

use crate::{
    confirm, lines, manage_remote, parse_duration, print, storage_remote, text, CliError, GlobalArgs, Profiles,
};

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The stack's root URL, such as http://127.0.0.1:8000 (not its /console)
    #[arg(long)]
    pub url: String,
    /// Store a manage API token instead of a Storage API token
    #[arg(long)]
    pub manage: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project. Example: stowage project create Analytics
    Create {
        /// The project's name
        name: String,
    },
    /// List projects. Example: stowage project list
    List,
    /// Delete a project with everything in it. Example: stowage project delete 3
    Delete {
        /// The project's id
        id: i64,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a member (creates the user and their master token, printed once).
    /// Example: stowage user add 1 ann@example.com --role admin
    Add {
        /// The project's id
        project: i64,
        /// The member's email
        email: String,
        /// admin, share, guest or readOnly
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Remove a member from a project (deletes their master token).
    /// Example: stowage user remove 1 ann@example.com
    #[command(visible_alias = "delete")]
    Remove {
        /// The project's id
        project: i64,
        /// The member's email
        email: String,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
    /// List members. Example: stowage user list 1
    List {
        /// The project's id
        project: i64,
    },
    /// Set a user's console password, read from STOWAGE_PASSWORD or asked for (hidden, twice).
    /// Example: stowage user password ann@example.com
    Password {
        /// The user's email
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a limited token; its secret is printed once.
    /// Example: stowage token create --description partner --write out.c-share --expires-in 7d
    Create(TokenCreateArgs),
    /// List tokens. Example: stowage token list
    List,
    /// Show a token: its permissions, expiry and use (never its secret). Example: stowage token show 12
    Show {
        /// The token's id
        id: String,
    },
    /// Change a token's description or permissions; what is not given stays.
    /// Example: stowage token update 12 --description "nightly sync" --read in.c-sales
    Update(TokenUpdateArgs),
    /// Give a token a new secret (printed once). Example: stowage token refresh 12
    Refresh {
        /// The token's id
        id: String,
    },
    /// Email a one-time link to a token. Example: stowage token share 12 --email ann@example.com --message "For the sync"
    Share {
        /// The token's id
        id: String,
        /// Who gets the link
        #[arg(long)]
        email: String,
        /// A message for them
        #[arg(long)]
        message: String,
    },
    /// Delete a token. Example: stowage token delete 12
    Delete {
        /// The token's id
        id: String,
        /// Do not ask for confirmation on a terminal
        #[arg(long, short)]
        yes: bool,
    },
}

/// Permissions of a token, as `token create` and `token update` take them.
#[derive(Debug, Args)]
pub struct Permissions {
    /// Bucket the token may read (repeatable)
    #[arg(long = "read", value_name = "BUCKET")]
    pub read: Vec<String>,
    /// Bucket the token may write (repeatable)
    #[arg(long = "write", value_name = "BUCKET")]
    pub write: Vec<String>,
    /// Component the token may configure and run (repeatable)
    #[arg(long = "component", value_name = "ID")]
    pub component: Vec<String>,
}

impl Permissions {
    fn buckets(&self) -> serde_json::Map<String, Value> {
        let mut permissions = serde_json::Map::new();
        for bucket in &self.read {
            permissions.insert(bucket.clone(), json!("read"));
        }
        for bucket in &self.write {
            permissions.insert(bucket.clone(), json!("write"));
        }
        permissions
    }
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// What the token is for
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    pub permissions: Permissions,
    /// How long until the token expires: seconds, or 30m, 12h, 7d, 2w
    #[arg(long, value_parser = parse_duration)]
    pub expires_in: Option<u64>,
    /// Full access to every bucket
    #[arg(long)]
    pub manage_buckets: bool,
}

#[derive(Debug, Args)]
pub struct TokenUpdateArgs {
    /// The token's id
    pub id: String,
    /// A new description
    #[arg(long)]
    pub description: Option<String>,
    /// Replaces the bucket permissions with the --read and --write given
    #[command(flatten)]
    pub permissions: Permissions,
}

pub(crate) async fn login(args: LoginArgs) -> Result<(), CliError> {
    let url = args.url.trim().trim_end_matches('/').to_string();
    if let Some(root) = url.strip_suffix("/console").or_else(|| url.split_once("/console/").map(|(root, _)| root)) {
        return Err(CliError::usage(format!(
            "{url} is the console's address; log in with the stack's root URL: stowage login --url {root}"
        )));
    }
    let secret = match std::env::var("STOWAGE_TOKEN") {
        Ok(secret) if !secret.trim().is_empty() => secret.trim().to_string(),
        _ => rpassword::prompt_password(if args.manage { "Manage token: " } else { "Storage API token: " })
            .map_err(|_| CliError::auth("no token: set STOWAGE_TOKEN or run `stowage login` in a terminal"))?
            .trim()
            .to_string(),
    };
    if secret.is_empty() {
        return Err(CliError::auth("the token is empty"));
    }
    // The token is checked before it is stored, so a typo shows now rather than at the next command.
    let (checked, who) = if args.manage {
        let projects = Remote::manage(&url, &secret)?.request(Method::GET, "/manage/projects", None).await?;
        let count = projects.as_array().map_or(0, Vec::len);
        (json!({ "projects": count }), format!("a manage token that sees {count} projects"))
    } else {
        let token = Remote::new(&url, &secret)?.verify().await?;
        let who = format!(
            "token {} ({}) of project {} \"{}\"",
            text(&token["id"]),
            text(&token["description"]),
            text(&token["owner"]["id"]),
            text(&token["owner"]["name"])
        );
        (token, who)
    };
    let mut profiles = Profiles::load()?;
    let name = args.global.profile.clone().unwrap_or_else(|| "default".into());
    let entry = profiles.profiles.entry(name.clone()).or_default();
    entry.url = url;
    if args.manage {
        entry.manage_token = Some(secret);
    } else {
        entry.token = Some(secret);
    }
    if profiles.default.is_none() {
        profiles.default = Some(name.clone());
    }
    let path = profiles.save()?;
    let saved = json!({ "profile": name, "path": path.display().to_string(), "token": checked });
    print(&args.global, &saved, || format!("Profile \"{name}\" saved in {}: {who}.", path.display()));
    Ok(())
}

pub(crate) async fn project(global: &GlobalArgs, command: ProjectCommand) -> Result<(), CliError> {
    let remote = manage_remote(global)?;
    match command {
        ProjectCommand::Create { name } => {
            let project = remote.request(Method::POST, "/manage/projects", Some(json!({ "name": name }))).await?;
            print(global, &project, || format!("Project {} \"{}\" created.", project["id"], text(&project["name"])));
        }
        ProjectCommand::List => {
            let list = remote.request(Method::GET, "/manage/projects", None).await?;
            print(global, &list, || lines(&list, |p| format!("{}\t{}", p["id"], text(&p["name"]))));
        }
        ProjectCommand::Delete { id, yes } => {
            let project = remote.request(Method::GET, &format!("/manage/projects/{id}"), None).await?;
            confirm(yes, &format!("Delete project {id} \"{}\" with all its data?", text(&project["name"])))?;
            remote.request(Method::DELETE, &format!("/manage/projects/{id}"), None).await?;
            print(global, &json!({ "deleted": id }), || format!("Project {id} deleted."));
        }
    }
    Ok(())
}

pub(crate) async fn user(global: &GlobalArgs, command: UserCommand) -> Result<(), CliError> {
    let remote = manage_remote(global)?;
    match command {
        UserCommand::Add { project, email, role } => {
            let body = json!({ "email": email, "role": role });
            let member = remote.request(Method::POST, &format!("/manage/projects/{project}/users"), Some(body)).await?;
            print(global, &member, || {
                format!(
                    "{} added to project {project} as {}. Their master token (shown once):\n{}",
                    text(&member["email"]),
                    text(&member["role"]),
                    text(&member["token"]["token"])
                )
            });
        }
        UserCommand::Remove { project, email, yes } => {
            confirm(yes, &format!("Remove {email} from project {project} and delete their master token?"))?;
            remote.request(Method::DELETE, &format!("/manage/projects/{project}/users/{email}"), None).await?;
            print(global, &json!({ "removed": email }), || {
                format!("{email} removed from project {project}; their master token is deleted.")
            });
        }
        UserCommand::List { project } => {
            let list = remote.request(Method::GET, &format!("/manage/projects/{project}/users"), None).await?;
            print(global, &list, || lines(&list, |m| format!("{}\t{}", text(&m["email"]), text(&m["role"]))));
        }
        UserCommand::Password { email } => {
            let password = match std::env::var("STOWAGE_PASSWORD") {
                Ok(password) if !password.is_empty() => password,
                _ => {
                    let ask = |prompt: &str| {
                        rpassword::prompt_password(prompt).map_err(|_| {
                            CliError::usage("no password: set STOWAGE_PASSWORD or run the command in a terminal")
                        })
                    };
                    let first = ask("New password: ")?;
                    if ask("Again: ")? != first {
                        return Err(CliError::usage("the two passwords differ; nothing was changed"));
                    }
                    first
                }
            };
            let body = json!({ "password": password });
            remote.request(Method::PUT, &format!("/manage/users/{email}/password"), Some(body)).await?;
            print(global, &json!({ "passwordSet": email }), || format!("The console password of {email} is set."));
        }
    }
    Ok(())
}

pub(crate) async fn token(global: &GlobalArgs, command: TokenCommand) -> Result<(), CliError> {
    let remote = storage_remote(global)?;
    match command {
        TokenCommand::Create(args) => {
            let mut body = json!({
                "bucketPermissions": args.permissions.buckets(),
                "componentAccess": args.permissions.component,
                "canManageBuckets": args.manage_buckets,
            });
            if let Some(description) = args.description {
                body["description"] = json!(description);
            }
            if let Some(expires_in) = args.expires_in {
                body["expiresIn"] = json!(expires_in);
            }
            let created = remote.request(Method::POST, "/v2/storage/tokens", Some(body)).await?;
            print(global, &created, || {
                format!("Token {} created. Its secret (shown once):\n{}", text(&created["id"]), text(&created["token"]))
            });
        }
        TokenCommand::List => {
            let list = remote.request(Method::GET, "/v2/storage/tokens", None).await?;
            print(global, &list, || {
                lines(&list, |t| format!("{}\t{}\t{}", text(&t["id"]), text(&t["description"]), buckets(t)))
            });
        }
        TokenCommand::Show { id } => {
            let token = remote.request(Method::GET, &format!("/v2/storage/tokens/{id}"), None).await?;
            print(global, &token, || describe(&token));
        }
        TokenCommand::Update(args) => {
            let mut body = json!({});
            if let Some(description) = args.description {
                body["description"] = json!(description);
            }
            if !args.permissions.read.is_empty() || !args.permissions.write.is_empty() {
                body["bucketPermissions"] = Value::Object(args.permissions.buckets());
            }
            if !args.permissions.component.is_empty() {
                body["componentAccess"] = json!(args.permissions.component);
            }
            if body.as_object().is_some_and(serde_json::Map::is_empty) {
                return Err(CliError::usage("nothing to change: give --description, --read, --write or --component"));
            }
            let id = args.id;
            let token = remote.request(Method::PUT, &format!("/v2/storage/tokens/{id}"), Some(body)).await?;
            print(global, &token, || format!("Token {id} updated.\n{}", describe(&token)));
        }
        TokenCommand::Refresh { id } => {
            let refreshed =
                remote.request(Method::POST, &format!("/v2/storage/tokens/{id}/refresh"), Some(json!({}))).await?;
            print(global, &refreshed, || {
                format!("Token {id} refreshed. Its new secret (shown once):\n{}", text(&refreshed["token"]))
            });
        }
        TokenCommand::Share { id, email, message } => {
            let body = json!({ "recipientEmail": email, "message": message });
            let (_, headers) = remote
                .request_with_headers(Method::POST, &format!("/v2/storage/tokens/{id}/share"), Some(body))
                .await?;
            // A stack without an SMTP server names the file it wrote the mail to.
            let outbox = headers.get(stowage_client::OUTBOX_HEADER).and_then(|value| value.to_str().ok());
            print(global, &json!({ "shared": id, "recipientEmail": email, "outbox": outbox }), || match outbox {
                Some(file) => format!(
                    "No SMTP server is configured: the one-time link to token {id} for {email} was written to {file} \
                     in the stack's data dir."
                ),
                None => format!("A one-time link to token {id} was sent to {email}."),
            });
        }
        TokenCommand::Delete { id, yes } => {
            confirm(yes, &format!("Delete token {id}?"))?;
            remote.request(Method::DELETE, &format!("/v2/storage/tokens/{id}"), None).await?;
            print(global, &json!({ "deleted": id }), || format!("Token {id} deleted."));
        }
    }
    Ok(())
}

fn buckets(token: &Value) -> String {
    match &token["bucketPermissions"] {
        Value::Object(map) => map.iter().map(|(b, p)| format!("{b}:{}", text(p))).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

/// A token's detail for people.
fn describe(token: &Value) -> String {
    let components = token["componentAccess"]
        .as_array()
        .map(|c| c.iter().map(text).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let or_none = |value: String| if value.is_empty() { "none".to_string() } else { value };
    format!(
        "id\t{}\ndescription\t{}\nmaster\t{}\nmanage buckets\t{}\nbuckets\t{}\ncomponents\t{}\ncreated\t{}\nexpires\t{}\nlast used\t{}",
        text(&token["id"]),
        text(&token["description"]),
        token["isMasterToken"],
        token["canManageBuckets"],
        or_none(buckets(token)),
        or_none(components),
        text(&token["created"]),
        or_none(text(&token["expires"])),
        or_none(text(&token["lastUsed"])),
    )
}
