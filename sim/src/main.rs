//! `talkdesk-sim`: run the simulator beside `wrangler dev`, and script it from another terminal.
//! Every subcommand but `serve` is a thin client of the `/_sim/…` control API.
//!
//! Single sign-on: `serve --redirect-uri URL` (repeatable) registers the app's redirect URIs and
//! `--auto-sign-in` signs the `login_hint` member in without the page; `launch INSTALLATION
//! [--user ID_OR_EMAIL] [--worker URL]` prints the URL Talkdesk opens to launch the app.
//!
//! CRM bridge: `bridge --worker URL --key KEY (activate | sync | incremental CHECKPOINT | agents |
//! interactions --contact ID … | action NAME --contact ID --agent ID --data JSON)` plays Talkdesk
//! Integrations against the worker once and prints a JSON report (it needs no running simulator).

mod bridge_cli;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use std::time::Duration;
use talkdesk_sim::{
    launch_url, EventReads, InstallationView, SimConfig, Simulator, DEFAULT_REDIRECT_URI,
    DEFAULT_WORKER_URL,
};

#[derive(Parser)]
#[command(
    name = "talkdesk-sim",
    about = "A strict local Talkdesk simulator for AppConnect apps"
)]
struct Cli {
    /// Port of the running simulator (for the client subcommands).
    #[arg(long, global = true, default_value_t = 8790)]
    port: u16,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the simulator (Talkdesk ID, API gateway, events sender, control API) on 127.0.0.1.
    Serve {
        #[arg(long, default_value = "dev-app-0000")]
        app_id: String,
        /// The app's events URL.
        #[arg(
            long,
            default_value = "http://127.0.0.1:8787/events/dev-only-callback-token-0123456789"
        )]
        callback: String,
        /// Multiplies the 5 and 10 minute retry delays.
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// `expires_in` of access tokens, seconds.
        #[arg(long, default_value_t = 600)]
        token_ttl: u64,
        /// Per-attempt delivery timeout, seconds.
        #[arg(long, default_value_t = 10)]
        delivery_timeout: u64,
        /// How events read back: by-resource-id (only the self link), by-envelope-id (self link
        /// = envelope id) or a status every event read answers (e.g. 404, 503).
        #[arg(long, default_value = "by-resource-id")]
        event_reads: EventReads,
        /// At most this many token requests per account per second (429 beyond; default
        /// unlimited).
        #[arg(long)]
        token_rate_limit: Option<u32>,
        /// A redirect URI registered for the app's sign-in (repeatable; /oauth/authorize accepts
        /// exactly these).
        #[arg(long = "redirect-uri", default_value = DEFAULT_REDIRECT_URI)]
        redirect_uri: Vec<String>,
        /// Sign the member named by login_hint in at once instead of showing the sign-in page
        /// (for headless runs).
        #[arg(long)]
        auto_sign_in: bool,
    },
    /// Install the app in an account (sends app.installed).
    Install {
        #[arg(long, default_value = "ES256")]
        alg: String,
        #[arg(long, default_value = "acme")]
        account: String,
        /// Users holding a licence for the app.
        #[arg(long, default_value_t = 3)]
        users: usize,
        /// Members of the account without a licence (listed on the sign-in page only).
        #[arg(long, default_value_t = 1)]
        unlicensed_users: usize,
        /// Space-separated scopes (default: apps:read apps:write account:read users:read openid).
        #[arg(long)]
        scopes: Option<String>,
    },
    /// Change users or plan (sends app.updated).
    Update {
        installation: String,
        /// Email of a user to add (repeatable).
        #[arg(long = "add-user")]
        add_user: Vec<String>,
        /// Id or email of a user to remove (repeatable).
        #[arg(long = "remove-user")]
        remove_user: Vec<String>,
        /// New plan name.
        #[arg(long)]
        plan: Option<String>,
        /// Licences of the new plan (default: the user count).
        #[arg(long)]
        licenses: Option<u32>,
    },
    /// Rotate the credentials (sends app.credentials_rotated).
    Rotate { installation: String },
    /// Trial events.
    Trial {
        /// started, extended or ended
        kind: String,
        installation: String,
    },
    /// Uninstall (sends app.uninstalled).
    Uninstall {
        installation: String,
        #[arg(long, default_value = "Uninstalled by the account admin")]
        message: String,
    },
    /// Log a user out (sends user.logout).
    Logout { installation: String, user: String },
    /// Installations, their state and history.
    Status { installation: Option<String> },
    /// Every request the simulator received.
    Requests,
    /// Play Talkdesk Integrations against the worker's CRM bridge once; prints a JSON report.
    Bridge {
        /// The worker's origin (the bridge is {worker}/bridge), or the bridge URL itself.
        #[arg(long, default_value = DEFAULT_WORKER_URL)]
        worker: String,
        /// The integration key (the `auth.integration_key` of every request).
        #[arg(long)]
        key: String,
        #[command(subcommand)]
        cmd: bridge_cli::BridgeCmd,
    },
    /// Print the URL Talkdesk opens to launch the app for a user:
    /// {worker}/launch?talkdesk_installation_id=…&talkdesk_user_id=…
    Launch {
        installation: String,
        /// Id or email of a member of the account, licensed or not (default: the first licensed
        /// user).
        #[arg(long)]
        user: Option<String>,
        /// The app's origin.
        #[arg(long, default_value = DEFAULT_WORKER_URL)]
        worker: String,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Cmd::Serve {
        app_id,
        callback,
        time_scale,
        token_ttl,
        delivery_timeout,
        event_reads,
        token_rate_limit,
        redirect_uri,
        auto_sign_in,
    } = cli.cmd
    {
        let sim = Simulator::try_start(SimConfig {
            app_id: app_id.clone(),
            callback_url: Some(callback.clone()),
            token_ttl_secs: token_ttl,
            time_scale,
            delivery_timeout: Duration::from_secs(delivery_timeout),
            port: Some(cli.port),
            control_api: true,
            event_reads,
            token_rate_limit,
            redirect_uris: redirect_uri.clone(),
            auto_sign_in,
        })
        .unwrap_or_else(|e| fail(&format!("cannot start on 127.0.0.1:{}: {e}", cli.port)));
        println!("talkdesk-sim listening on {}", sim.base_url());
        println!("  token URL  {}", sim.token_url());
        println!("  app id     {app_id}");
        println!("  callback   {callback}");
        println!("  authorize  {}", sim.authorize_url());
        for uri in &redirect_uri {
            println!("  redirect   {uri}");
        }
        println!("  control    {}/_sim/…", sim.base_url());
        sim.wait();
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Cmd::Bridge { worker, key, cmd } = cli.cmd {
        let outcome = rt.block_on(bridge_cli::run(&worker, &key, cmd));
        let failed = outcome.is_err();
        let v = outcome.unwrap_or_else(|e| e);
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
        std::process::exit(i32::from(failed));
    }
    rt.block_on(client(cli.port, cli.cmd));
}

fn fail(msg: &str) -> ! {
    eprintln!("talkdesk-sim: {msg}");
    std::process::exit(1)
}

async fn call(port: u16, method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("http://127.0.0.1:{port}/_sim/{path}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut req = match method {
        "GET" => client.get(&url),
        _ => client.post(&url),
    };
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap_or_else(|e| {
        fail(&format!(
            "no simulator at 127.0.0.1:{port} ({e}); start it with `talkdesk-sim serve`"
        ))
    });
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        fail(&format!(
            "{status}: {}",
            v["error_description"].as_str().unwrap_or("?")
        ));
    }
    v
}

fn describe_delivery(d: &Value) -> String {
    if d["held"].as_bool() == Some(true) {
        return "held".into();
    }
    let a = &d["attempt"];
    match (a["status"].as_u64(), a["error"].as_str()) {
        (Some(s), _) if (200..300).contains(&s) => format!("delivered ({s})"),
        (Some(s), _) => format!("answered {s}; will retry after 5 and 10 minutes (scaled)"),
        (None, Some(e)) => format!("failed ({e}); will retry after 5 and 10 minutes (scaled)"),
        _ => "unknown".into(),
    }
}

fn print_sent(label: &str, sent: &Value) {
    println!(
        "{label}: event {} ({})",
        sent["event_id"].as_str().unwrap_or("?"),
        sent["event"]["type"].as_str().unwrap_or("?")
    );
    println!("  delivery: {}", describe_delivery(&sent["delivery"]));
}

fn print_status(v: &Value) {
    println!(
        "installation {}  account {} ({})  state {}{}",
        v["id"].as_str().unwrap_or("?"),
        v["account_name"].as_str().unwrap_or("?"),
        v["account_id"].as_str().unwrap_or("?"),
        v["state"].as_str().unwrap_or("?"),
        if v["removed"].as_bool() == Some(true) {
            " (removed)"
        } else {
            ""
        }
    );
    for h in v["history"].as_array().into_iter().flatten() {
        println!(
            "  {}  {} -> {}  confirms {}  reason {}",
            h["at"].as_str().unwrap_or(""),
            h["action"].as_str().unwrap_or(""),
            h["state"].as_str().unwrap_or(""),
            h["confirms"].as_str().unwrap_or("-"),
            h["reason"].as_str().unwrap_or("-")
        );
    }
    for a in v["acknowledgements"].as_array().into_iter().flatten() {
        println!(
            "  {}  credentials {} acknowledged",
            a["at"].as_str().unwrap_or(""),
            a["client_id"].as_str().unwrap_or("")
        );
    }
    for d in v["deliveries"].as_array().into_iter().flatten() {
        println!(
            "  {}  {} attempt {}: {}",
            d["at"].as_str().unwrap_or(""),
            d["event_type"].as_str().unwrap_or(""),
            d["attempt"],
            d["status"]
                .as_u64()
                .map(|s| s.to_string())
                .unwrap_or_else(|| d["error"].as_str().unwrap_or("?").to_string())
        );
    }
}

async fn client(port: u16, cmd: Cmd) {
    match cmd {
        Cmd::Serve { .. } | Cmd::Bridge { .. } => unreachable!(),
        Cmd::Install {
            alg,
            account,
            users,
            unlicensed_users,
            scopes,
        } => {
            let mut spec = json!({
                "account_name": account, "algorithm": alg.to_ascii_uppercase(),
                "users": users, "unlicensed_users": unlicensed_users,
            });
            if let Some(s) = scopes {
                spec["scopes"] = json!(s.split_whitespace().collect::<Vec<_>>());
            }
            let v = call(port, "POST", "install", Some(spec)).await;
            println!(
                "installed: installation {}",
                v["installation_id"].as_str().unwrap_or("?")
            );
            println!(
                "  account {} ({})",
                v["account_name"].as_str().unwrap_or("?"),
                v["account_id"].as_str().unwrap_or("?")
            );
            println!(
                "  client_id {}  key_id {}  {}",
                v["client_id"].as_str().unwrap_or("?"),
                v["key_id"].as_str().unwrap_or("?"),
                v["algorithm"].as_str().unwrap_or("?")
            );
            println!(
                "  event {} (app.installed)",
                v["event_id"].as_str().unwrap_or("?")
            );
            println!("  delivery: {}", describe_delivery(&v["delivery"]));
            println!(
                "  state: pending (watch with `talkdesk-sim status {}`)",
                v["installation_id"].as_str().unwrap_or("?")
            );
        }
        Cmd::Update {
            installation,
            add_user,
            remove_user,
            plan,
            licenses,
        } => {
            let view = call(port, "GET", &format!("installations/{installation}"), None).await;
            let existing = view["users"].as_array().cloned().unwrap_or_default();
            let remove: Vec<String> = remove_user
                .iter()
                .map(|r| {
                    existing
                        .iter()
                        .find(|u| u["id"] == json!(r) || u["email"] == json!(r))
                        .and_then(|u| u["id"].as_str().map(str::to_string))
                        .unwrap_or_else(|| fail(&format!("no user {r} in {installation}")))
                })
                .collect();
            let add: Vec<Value> = add_user
                .iter()
                .enumerate()
                .map(|(k, email)| {
                    let id = format!("{:024x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() + k as u128);
                    let name = email.split('@').next().unwrap_or(email);
                    json!({"id": &id[id.len() - 24..], "email": email, "name": name, "active": true})
                })
                .collect();
            let mut body = json!({"add_users": add, "remove_users": remove});
            if let Some(p) = plan {
                let n = licenses.unwrap_or((existing.len() + add.len() - remove.len()) as u32);
                body["subscription"] = json!({"name": p, "licenses": n});
            }
            let v = call(
                port,
                "POST",
                &format!("installations/{installation}/update"),
                Some(body),
            )
            .await;
            print_sent("updated", &v);
        }
        Cmd::Rotate { installation } => {
            let v = call(
                port,
                "POST",
                &format!("installations/{installation}/rotate"),
                Some(json!({})),
            )
            .await;
            println!(
                "rotated: new client_id {} (previous {} keeps working)",
                v["client_id"].as_str().unwrap_or("?"),
                v["previous_client_id"].as_str().unwrap_or("?")
            );
            print_sent("  sent", &v["sent"]);
        }
        Cmd::Trial { kind, installation } => {
            let v = call(
                port,
                "POST",
                &format!("installations/{installation}/trial/{kind}"),
                Some(json!({})),
            )
            .await;
            print_sent("trial", &v);
        }
        Cmd::Uninstall {
            installation,
            message,
        } => {
            let v = call(
                port,
                "POST",
                &format!("installations/{installation}/uninstall"),
                Some(json!({"type": "user", "message": message})),
            )
            .await;
            print_sent("uninstalled", &v);
        }
        Cmd::Logout { installation, user } => {
            let v = call(
                port,
                "POST",
                &format!("installations/{installation}/logout"),
                Some(json!({"user": user})),
            )
            .await;
            print_sent("logout", &v);
        }
        Cmd::Status {
            installation: Some(id),
        } => {
            print_status(&call(port, "GET", &format!("installations/{id}"), None).await);
        }
        Cmd::Status { installation: None } => {
            let v = call(port, "GET", "installations", None).await;
            let list = v.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!(
                    "no installations yet (try `talkdesk-sim install --alg ES256 --account acme`)"
                );
            }
            for i in list {
                print_status(&i);
            }
        }
        Cmd::Launch {
            installation,
            user,
            worker,
        } => {
            let view = call(port, "GET", &format!("installations/{installation}"), None).await;
            let view: InstallationView = serde_json::from_value(view)
                .unwrap_or_else(|e| fail(&format!("unexpected installation answer: {e}")));
            match launch_url(&worker, &view, user.as_deref()) {
                Ok(url) => println!("{url}"),
                Err(e) => fail(&e.to_string()),
            }
        }
        Cmd::Requests => {
            let v = call(port, "GET", "requests", None).await;
            for r in v.as_array().into_iter().flatten() {
                println!(
                    "#{} {} {} {} -> {}{}",
                    r["seq"],
                    r["at"].as_str().unwrap_or(""),
                    r["method"].as_str().unwrap_or(""),
                    r["path"].as_str().unwrap_or(""),
                    r["status"]
                        .as_u64()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r["error"]
                        .as_str()
                        .map(|e| format!("  ({e})"))
                        .unwrap_or_default()
                );
            }
        }
    }
}
