//! Memory and CPU time of processes from /proc: one process's `VmRSS`/`VmHWM`, the CPU time
//! and resident memory of a set of processes with all their descendants, summed, the memory
//! sampled on a thread for its peak.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a [`TreeSampler`] reads /proc.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// `field` (`VmRSS`: now, `VmHWM`: peak) of process `pid`, in KiB; 0 if it is gone.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The CPU time (user + system) process `pid` has used so far, in seconds; 0 if it is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis, utime and stime are the 12th and 13th fields.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / per_second as f64
}

/// [`cpu_seconds`] summed over `roots` and their live descendants.
pub fn tree_cpu_seconds(roots: &[u32]) -> f64 {
    tree(roots).into_iter().map(cpu_seconds).sum()
}

/// `roots` and every live descendant of theirs.
pub fn tree(roots: &[u32]) -> BTreeSet<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // After the command's closing parenthesis: state, then the parent's pid.
        let Some(ppid) = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
        else {
            continue;
        };
        children.entry(ppid).or_default().push(pid);
    }
    let mut all = BTreeSet::new();
    let mut todo: Vec<u32> = roots.to_vec();
    while let Some(pid) = todo.pop() {
        if all.insert(pid) {
            todo.extend(children.get(&pid).into_iter().flatten());
        }
    }
    all.retain(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
    all
}

/// `VmRSS` summed over `roots` and their descendants, in KiB.
pub fn tree_rss_kib(roots: &[u32]) -> u64 {
    tree(roots).into_iter().map(|pid| memory_kib(pid, "VmRSS")).sum()
}

/// Samples [`tree_rss_kib`] until stopped; [`TreeSampler::stop`] gives the highest sum seen.
pub struct TreeSampler {
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl TreeSampler {
    pub fn start(roots: Vec<u32>) -> TreeSampler {
        let running = Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = tree_rss_kib(&roots);
            while flag.load(Ordering::Relaxed) {
                std::thread::sleep(SAMPLE_EVERY);
                peak = peak.max(tree_rss_kib(&roots));
            }
            peak
        });
        TreeSampler { running, thread: Some(thread) }
    }

    /// The peak, in KiB.
    pub fn stop(mut self) -> u64 {
        self.running.store(false, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap_or(0))
    }
}

impl Drop for TreeSampler {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
