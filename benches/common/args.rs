//! The benchmarks' command line (`cargo bench --bench NAME -- --smoke
//! --runs 3`), read the same way by every bench binary (each includes
//! this file with `#[path]`).

/// The arguments after `--`.
pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Args {
        Args(std::env::args().collect())
    }

    /// Whether `--name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    /// The value after `--name`, or `default` when it is missing or does
    /// not parse.
    pub fn value<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}
