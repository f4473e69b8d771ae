//! The `feedsift` binary: parses the command line, sets up logging and turns
//! outcomes into exit codes. The work itself lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use feedsift::commands;
use feedsift::publish::Format;

#[derive(Parser)]
#[command(
    name = "feedsift",
    version,
    about = "Follow news feeds, sort items into topics, republish each topic as a feed"
)]
struct Cli {
    /// config file [default: ./config.toml, then $FEEDSIFT_CONFIG, then /etc/feedsift/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll on schedule and serve topic feeds until SIGTERM/SIGINT; SIGHUP reloads config.toml
    Run {
        /// what this process does: all (one machine), or over PostgreSQL
        /// poll (share the feeds with other pollers) or serve (publish only)
        #[arg(long, value_enum, default_value = "all")]
        role: feedsift::daemon::Role,
    },
    /// Poll every feed once and store new items (exit 1 only when every feed failed)
    Poll,
    /// Validate config.toml and print what it defines
    Check,
    /// Write one topic's feed, or with --all every document, from the database (no network)
    Export {
        /// the topic's slug, as in [topic.SLUG]
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        slug: Option<String>,
        #[arg(long, value_enum, default_value = "atom", conflicts_with = "all")]
        format: Format,
        /// every topic's Atom and JSON Feed, topics.opml and index.html into the folder -o DIR
        #[arg(long, requires = "output")]
        all: bool,
        /// write to FILE (atomically) instead of standard output; with --all, the folder
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// One line per feed (status, last success, items, errors in a row) under a summary; with URL, that feed in detail
    #[command(args_conflicts_with_subcommands = true)]
    Feeds {
        #[command(subcommand)]
        add: Option<FeedsCommand>,
        /// one feed's whole state: title, next poll, last error, move
        url: Option<String>,
        /// only the feeds that need attention (failing, no items, repaired, moved, removed)
        #[arg(long)]
        failing: bool,
        /// the same as JSON, for scripts
        #[arg(long)]
        json: bool,
    },
    /// Work on topics without changing anything
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Move feeds in and out as OPML (Miniflux, FreshRSS, newsboat...)
    #[command(subcommand)]
    Opml(OpmlCommand),
    /// Move the database: `store copy --to postgres://...`
    #[command(subcommand)]
    Store(StoreCommand),
    /// List a story's sources (the number `topic test` shows, or its id)
    Story {
        /// the story's number or id
        id: String,
        /// show each member's score against the lead and the others, and
        /// the names, figures and words it shares with the lead
        #[arg(long)]
        why: bool,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy the configured database into an empty one, SQLite to
    /// PostgreSQL or back, keeping every id (readers see no duplicates)
    Copy {
        /// the target: a postgres:// url, or a SQLite file path
        #[arg(long, value_name = "URL_OR_PATH")]
        to: String,
    },
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Add a feed to config.toml from its address or its website's (the
    /// page's announced feeds are found and test-fetched; comments and
    /// layout kept)
    Add {
        /// a feed address, or a web page that links its feed
        url: String,
        /// when the page announces several feeds, the number of the one to add
        #[arg(long, value_name = "N")]
        pick: Option<usize>,
    },
}

#[derive(Subcommand)]
enum OpmlCommand {
    /// Add the feeds of an OPML file to config.toml (comments and layout kept;
    /// feeds already there are skipped)
    Import {
        /// the OPML file, as a feed reader exports it
        file: PathBuf,
    },
    /// Print the configured feeds as OPML 2.0
    Export,
}

#[derive(Subcommand)]
enum TopicCommand {
    /// Replay stored items through a topic or a query and list what it includes;
    /// with both, list what the query would add (+) and drop (-)
    Test {
        /// a topic's slug, as in [topic.SLUG]
        #[arg(required_unless_present = "query")]
        slug: Option<String>,
        /// a query to try, in the topic query language
        #[arg(long, value_name = "QUERY")]
        query: Option<String>,
        /// how far back to look, like 30d or 12h
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        since: String,
    },
}

fn main() -> ExitCode {
    feedsift::memory::configure_allocator();
    feedsift::logging::init();
    let cli = Cli::parse();
    let path = feedsift::config::resolve_path(cli.config.as_deref());
    let result = match cli.command {
        Command::Run { role } => commands::run(&path, role),
        Command::Poll => commands::poll(&path),
        Command::Check => commands::check(&path),
        Command::Export {
            slug,
            format,
            all,
            output,
        } => match (slug, output) {
            (_, Some(dir)) if all => commands::export_all(&path, &dir),
            (Some(slug), output) => commands::export(&path, &slug, format, output.as_deref()),
            (None, _) => Err(anyhow::anyhow!(
                "export needs a topic slug, or --all -o DIR for every topic"
            )),
        },
        Command::Feeds {
            add: Some(FeedsCommand::Add { url, pick }),
            ..
        } => commands::feeds_add(&path, &url, pick),
        Command::Feeds {
            add: None,
            url,
            failing,
            json,
        } => commands::feeds(&path, url.as_deref(), failing, json),
        Command::Opml(OpmlCommand::Import { file }) => commands::opml_import(&path, &file),
        Command::Opml(OpmlCommand::Export) => commands::opml_export(&path),
        Command::Store(StoreCommand::Copy { to }) => commands::store_copy(&path, &to),
        Command::Story { id, why } => commands::story(&path, &id, why),
        Command::Topic(TopicCommand::Test { slug, query, since }) => {
            commands::topic_test(&path, slug.as_deref(), query.as_deref(), &since)
        }
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`feedsift feeds | head`) is the reader's choice, not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
