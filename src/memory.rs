//! The process's use of glibc's allocator: tuned once at start, and freed
//! memory handed back after bursts of work, so an idle daemon stays small.

/// Large blocks on their own mappings, always. glibc's threshold for that
/// starts at 128 KiB but rises to the size of any such block freed (up to
/// 32 MiB), so after the first big buffer the story index's arrays,
/// megabytes each and rebuilt as the index grows, land in the heap, and
/// smaller blocks kept alive beside them pin the freed space: 53 MiB idle
/// against 44 MiB with the threshold held, at 10,000 feeds and 516,000
/// items (BENCHMARKS.md). 1 MiB rather than the 128 KiB start: the same
/// idle memory (256 KiB measured 44.9 MiB, 1 MiB 43.9), and feed bodies and
/// parse buffers, mostly under it, keep coming from the heap without an
/// mmap and munmap each. Call before threads start.
pub fn configure_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers and only sets glibc's own tunable.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// Returns the memory a burst of work freed (a poll's parsed feeds, a
/// grouping pass) to the system. glibc keeps freed memory in each thread's
/// arena for reuse, so a daemon that once polled 1000 feeds at once went on
/// holding that peak while idle.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it walks glibc's own arenas
    // under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
